"""Errors raised by the dataset registry, loaders and downloader."""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder or file is missing from the data home; the message says how to get it."""


class DatasetIntegrityError(ValueError):
    """A dataset file differs from the registry (SHA-256, rows or columns); nothing was parsed from it."""


class DatasetNotDownloadableError(ValueError):
    """The requested files were derived by the curators and exist upstream only as sources."""


class DatasetUnreachableError(ConnectionError):
    """The upstream host cannot be reached; the message says how to place the file by hand."""
