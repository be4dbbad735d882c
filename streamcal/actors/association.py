"""The association buffer (simple version): decides what happens after an exposure's last
single-exposure stage.  Plain Python; the real association logic is a later issue."""

from __future__ import annotations

from collections import OrderedDict

from ..router import Route

DONE, WAIT = "done", "waiting_association"


class AssociationBuffer:
    """Holds exposures whose route has a stage 3 until their association can be formed.

    An exposure without stage 3 is done after its last stage; one with stage 3 waits
    (``waiting_association``), grouped by its stage-3 pipeline.
    """

    def __init__(self):
        self.waiting: "OrderedDict[int, str]" = OrderedDict()  # file id -> stage-3 pipeline

    def add(self, file_id: int, route: Route) -> str:
        """Hand over an exposure after its last single-exposure stage; returns ``"done"`` or
        ``"waiting_association"``."""
        if route.stage3 is None:
            return DONE
        self.waiting[file_id] = route.stage3
        return WAIT

    def groups(self) -> dict[str, list[int]]:
        """Waiting exposures by stage-3 pipeline."""
        out: dict[str, list[int]] = {}
        for file_id, pipeline in self.waiting.items():
            out.setdefault(pipeline, []).append(file_id)
        return out

    def __len__(self) -> int:
        return len(self.waiting)
