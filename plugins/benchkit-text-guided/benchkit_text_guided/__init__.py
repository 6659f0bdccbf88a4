"""The text-guided multimodal unified anomaly detection method (Li, Ye, Yu, Xie, Shen; arXiv 2604.22899)."""
