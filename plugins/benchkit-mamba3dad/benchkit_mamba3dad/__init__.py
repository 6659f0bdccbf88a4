"""benchkit plugin: Mamba3DAD (multi-scale token fusion with Mamba adapters). Importing it is cheap."""
