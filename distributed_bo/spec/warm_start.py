"""The ``warm_start`` section: start a study from what earlier studies found.

```yaml
warm_start:
  from: [experiments/digits_v1]    # experiment directories or URIs (one, or a list)
  mode: initial                    # initial | data
  top_k: 4                         # initial mode: configurations taken from each source
```

``initial``: each source's best ``top_k`` feasible configurations (its Pareto set,
sorted by the first objective, with several objectives) are the study's first
trials, re-evaluated, after the baseline; use it when the objective, the data or the
model changed.

``data``: every completed trial of each source enters the model as an observation,
never run again, counting neither against the budget nor as a trial. It needs the
same objectives (metrics and modes) and, with outcome constraints, sources whose
rows hold the constrained metrics; ``top_k`` does not apply. The sources are read
when ``run`` starts (see :mod:`distributed_bo.runner.warm_start`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from distributed_bo.validation import check_int, check_keys, check_text, fail, require_mapping

MODES = ("initial", "data")
#: Most configurations taken from one source: more is a typo for a budget.
MAX_TOP_K = 1_000
#: Configurations taken from each source in ``initial`` mode unless ``top_k`` says.
DEFAULT_TOP_K = 4


@dataclass(frozen=True, kw_only=True)
class WarmStartSpec:
    """Where a study starts from (YAML section ``warm_start``).

    Attributes:
        sources: Experiment directories or URIs of earlier studies (YAML ``from``).
        mode: ``"initial"``: their best configurations are the first trials;
            ``"data"``: their completed trials are observations for the model.
        top_k: ``initial`` mode: configurations taken from each source, in
            ``[1, 1000]`` (``None``: 4). ``data`` mode takes none (``None``).
    """

    _path: ClassVar[str] = "warm_start"

    sources: tuple[str, ...]
    mode: str = "initial"
    top_k: int | None = None

    def __post_init__(self) -> None:
        sources = (self.sources,) if isinstance(self.sources, str) else self.sources
        if not isinstance(sources, (list, tuple)) or not sources:
            fail(
                "warm_start.from",
                self.sources,
                "give an experiment directory or URI written by distributed-bo run, or a list",
            )
        for i, source in enumerate(sources):
            check_text(
                source,
                f"warm_start.from[{i}]",
                "give an experiment directory or URI written by distributed-bo run",
            )
        if len(set(sources)) != len(sources):
            fail("warm_start.from", list(sources), "name each earlier study once")
        object.__setattr__(self, "sources", tuple(sources))
        if self.mode not in MODES:
            fail("warm_start.mode", self.mode, "use initial or data")
        if self.mode == "data":
            if self.top_k is not None:
                fail(
                    "warm_start.top_k",
                    self.top_k,
                    "data mode takes every completed trial of each source; drop top_k, or "
                    "use mode: initial to re-run the best top_k",
                )
            return
        top_k = DEFAULT_TOP_K if self.top_k is None else self.top_k
        check_int(top_k, "warm_start.top_k", ge=1, le=MAX_TOP_K)
        object.__setattr__(self, "top_k", top_k)

    @classmethod
    def from_dict(cls, data: Any) -> WarmStartSpec:
        """Build the section from YAML: ``{from, mode, top_k}`` (``from`` required).

        Raises:
            SpecError: On a non-mapping, an unknown or missing key, or a bad value.
        """
        require_mapping(data, cls._path, "a mapping with keys from, mode, top_k")
        check_keys(data, cls._path, allowed=("from", "mode", "top_k"), required=("from",))
        kwargs = {k: v for k, v in data.items() if k != "from"}
        return cls(sources=data["from"], **kwargs)

    @property
    def is_data(self) -> bool:
        """Whether earlier trials enter the model as observations (``data`` mode)."""
        return self.mode == "data"

    def to_dict(self) -> dict[str, Any]:
        """``{from, mode, top_k}``, as YAML takes it (``top_k`` only in ``initial`` mode)."""
        out: dict[str, Any] = {"from": list(self.sources), "mode": self.mode}
        if self.top_k is not None:
            out["top_k"] = self.top_k
        return out
