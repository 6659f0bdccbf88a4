"""benchkit plugin: the ``ray`` executor (see `benchkit_ray.executor`)."""
