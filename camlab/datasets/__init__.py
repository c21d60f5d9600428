"""TFDS builders of camlab's embedded datasets. Importing this package registers them with TFDS."""
from camlab.datasets.camlab_cars import CamlabCars  # noqa: F401  (registers "camlab_cars")
from camlab.datasets.camlab_photos import CamlabPhotos  # noqa: F401  (registers "camlab_photos")
