"""The Ax experiment as Ax's own JSON snapshot, with each trial's data encoded once.

Ax's ``Client`` has public ``save_to_json_file``/``load_from_json_file``, which go
through a file; the searcher needs the same dict in memory (it is written inside
the searcher's state file, atomically with the events), so the in-memory halves
``Client._to_json_snapshot`` and ``Client._from_json_snapshot`` are used. They are
private in Ax; both file methods are thin wrappers around them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from distributed_bo.exceptions import SearcherStateError


class AxSnapshot:
    """Builds :meth:`to_json` snapshots, re-encoding only the data rows that changed.

    Ax re-encodes every trial's data on every snapshot (about 10 ms per trial, so
    seconds per snapshot in a 1,000-trial study). Here each trial's encoded data is
    kept, keyed by a hash of its rows, and re-encoded only when they change.
    """

    def __init__(self) -> None:
        #: Trial index -> (fingerprint of its data rows, Ax's JSON of them).
        self._data_json: dict[int, tuple[tuple[int, int], Any]] = {}

    def to_json(self, client: Any) -> dict[str, Any]:
        """The same dict as ``client._to_json_snapshot()``, built faster.

        Args:
            client: The ``ax.api.Client``.
        """
        from ax.core.data import Data

        # Ax's Client exposes its experiment only through this private property.
        experiment = client._experiment
        data = experiment.data
        experiment.data = Data()
        try:
            snapshot: dict[str, Any] = client._to_json_snapshot()  # see the module docstring
        finally:
            experiment.data = data
        snapshot["experiment"]["data_by_trial"] = self._data_by_trial_json(data)
        return snapshot

    def _data_by_trial_json(self, data: Any) -> dict[int, Any]:
        """Ax's encoding of ``data_to_data_by_trial(data)``, cached per trial."""
        from collections import OrderedDict

        import pandas as pd
        from ax.core.data import Data
        from ax.storage.json_store.encoder import object_to_json

        df = data.full_df
        if len(df) == 0:
            self._data_json = {}
            return {}
        hashes = pd.util.hash_pandas_object(df, index=False)
        keys = hashes.groupby(df["trial_index"].to_numpy()).agg(["sum", "size"])
        fresh: dict[int, tuple[tuple[int, int], Any]] = {}
        groups = None
        for index, h, size in zip(keys.index.tolist(), keys["sum"], keys["size"], strict=True):
            key = (int(h), int(size))
            cached = self._data_json.get(index)
            if cached is not None and cached[0] == key:
                fresh[index] = cached
                continue
            if groups is None:
                groups = dict(iter(df.groupby("trial_index")))
            fresh[index] = (key, object_to_json(OrderedDict([(0, Data(df=groups[index]))])))
        self._data_json = fresh
        return {index: encoded for index, (_, encoded) in fresh.items()}


def client_from_json(snapshot: Mapping[str, Any]) -> Any:
    """Rebuild an ``ax.api.Client`` from :meth:`AxSnapshot.to_json` output.

    Raises:
        SearcherStateError: If the snapshot cannot be decoded.
    """
    from ax.api import Client

    try:
        # Ax's decoder pops keys from the dicts it reads; a live snapshot shares
        # them with the generator's cache (and the searcher's last snapshot).
        return Client._from_json_snapshot(snapshot=copy.deepcopy(dict(snapshot)))
    except Exception as err:  # Ax raises many types for malformed JSON.
        raise SearcherStateError(
            f"searcher state: the saved Ax experiment cannot be decoded ({err}); "
            "the file is corrupt or from an incompatible Ax version"
        ) from err
