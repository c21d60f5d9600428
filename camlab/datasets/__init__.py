"""TFDS builders of camlab's generated datasets. Importing this package registers them with TFDS."""
from camlab.datasets.camlab_cars import CamlabCars  # noqa: F401  (registers "camlab_cars")
