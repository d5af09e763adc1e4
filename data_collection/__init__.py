"""Datasets: the HDF5 format, scripted collection (in-process or on Ray), and tools.

Public API (see docs/CONTRACTS.md): ``load_dataset``, ``save_dataset``, ``validate_file``,
``validate_dataset`` and the in-memory ``Dataset``. Importing this package stays light
(numpy + h5py); Ray, gymnasium and minari are imported only where they are used.
"""

from data_collection.dataset import Dataset
from data_collection.episodes import Episode, episodes_to_dataset, get_episode
from data_collection.hdf5_format import (
    SCHEMA_VERSION,
    DatasetFormatError,
    load_dataset,
    read_attrs,
    save_dataset,
    validate_dataset,
    validate_file,
)

__all__ = [
    "SCHEMA_VERSION",
    "Dataset",
    "DatasetFormatError",
    "Episode",
    "episodes_to_dataset",
    "get_episode",
    "load_dataset",
    "read_attrs",
    "save_dataset",
    "validate_dataset",
    "validate_file",
]
