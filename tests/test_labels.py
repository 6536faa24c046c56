"""Property tests of the staging-label rules (gitsm.labels), checked against a small reference model."""

from __future__ import annotations

import copy

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gitsm import labels
from gitsm.errors import InvalidParameterException, LimitExceededException
from gitsm.model import AWSCURRENT, AWSPENDING, AWSPREVIOUS, STAGES_PER_VERSION

StageMap = dict[str, list[str]]
CUSTOM = [f"L{i}" for i in range(24)]
LABELS = [AWSCURRENT, AWSPREVIOUS, AWSPENDING, *CUSTOM]
label_st = st.sampled_from(LABELS) | st.sampled_from([AWSCURRENT, AWSPREVIOUS, AWSPENDING])


def _holder(stages: StageMap, label: str) -> str | None:
    found = [vid for vid, ls in stages.items() if label in ls]
    assert len(found) <= 1
    return found[0] if found else None


def _put(stages: StageMap, vid: str, label: str) -> None:
    """Reference: move ``label`` onto ``vid``; moving AWSCURRENT hands AWSPREVIOUS to the old one."""
    old = _holder(stages, label)
    if old == vid:
        return
    if old is not None:
        stages[old].remove(label)
    stages[vid].append(label)
    if label == AWSCURRENT and old is not None:
        prev = _holder(stages, AWSPREVIOUS)
        if prev is not None:
            stages[prev].remove(AWSPREVIOUS)
        stages[old].append(AWSPREVIOUS)


def _over_limit(stages: StageMap) -> bool:
    return any(len(ls) > STAGES_PER_VERSION for ls in stages.values())


def ref_add(stages: StageMap, vid: str, wanted: list[str] | None) -> StageMap | type[Exception]:
    """Reference: every listed label ends on the new version (AWSCURRENT too if it is the first);
    if AWSCURRENT left a version, that version gets AWSPREVIOUS unless AWSPREVIOUS was listed."""
    out = copy.deepcopy(stages)
    old_current = _holder(out, AWSCURRENT)
    todo = set(wanted) if wanted is not None else {AWSCURRENT}
    if old_current is None:
        todo.add(AWSCURRENT)
    for labels_ in out.values():
        labels_[:] = [label for label in labels_ if label not in todo]
    out[vid] = sorted(todo)
    if AWSCURRENT in todo and old_current is not None and AWSPREVIOUS not in todo:
        prev = _holder(out, AWSPREVIOUS)
        if prev is not None:
            out[prev].remove(AWSPREVIOUS)
        out[old_current].append(AWSPREVIOUS)
    return LimitExceededException if _over_limit(out) else out


def ref_move(
    stages: StageMap, label: str, to: str | None, frm: str | None
) -> StageMap | type[Exception]:
    out = copy.deepcopy(stages)
    current = _holder(out, label)
    if frm is not None and current != frm:
        return InvalidParameterException
    if to is None:
        if frm is None or label == AWSCURRENT:
            return InvalidParameterException
        out[frm].remove(label)
        return out
    if current is not None and current != to and frm != current:
        return InvalidParameterException
    _put(out, to, label)
    return LimitExceededException if _over_limit(out) else out


def _normal(stages: StageMap) -> dict[str, set[str]]:
    return {vid: set(ls) for vid, ls in stages.items()}


def check_invariants(stages: StageMap) -> None:
    assert labels.invariant_problems(stages) == []
    where: dict[str, str] = {}
    for vid, ls in stages.items():
        assert len(ls) == len(set(ls)), f"{vid} carries a label twice"
        assert len(ls) <= STAGES_PER_VERSION
        for label in ls:
            assert label not in where, f"{label} on {where[label]} and {vid}"
            where[label] = vid
    currents = [vid for vid, ls in stages.items() if AWSCURRENT in ls]
    assert len(currents) == (1 if stages else 0)


class LabelMachine(RuleBasedStateMachine):
    """Random sequences of add_version / move_label, every step checked against the model."""

    @initialize()
    def start(self) -> None:
        self.stages: StageMap = {}
        self.count = 0

    def _vid(self, i: int) -> str | None:
        vids = list(self.stages)
        return vids[i % len(vids)] if vids and i >= 0 else None

    def _call(self, fn, expected, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        before = copy.deepcopy(self.stages)
        if isinstance(expected, type):
            with pytest.raises(expected):
                fn(self.stages, *args, **kwargs)
            assert self.stages == before, "a failed call mutated its input"
            return
        result = fn(self.stages, *args, **kwargs)
        assert self.stages == before, "the input was mutated"
        assert result is not self.stages
        assert _normal(result) == _normal(expected)
        old_current = _holder(before, AWSCURRENT)
        new_current = _holder(result, AWSCURRENT)
        explicit_previous = fn is labels.add_version and AWSPREVIOUS in (args[1] or [])
        if old_current is not None and new_current != old_current and not explicit_previous:
            assert AWSPREVIOUS in result[old_current], "AWSPREVIOUS must follow AWSCURRENT"
        if fn is labels.add_version and args[1]:
            shuffled = list(reversed(args[1]))
            again = labels.add_version(before, args[0], shuffled)
            assert _normal(again) == _normal(result), "the order of VersionStages matters"
        check_invariants(result)
        self.stages = result

    @rule(
        stages=st.none()
        | st.lists(label_st, min_size=1, max_size=STAGES_PER_VERSION)
        | st.lists(st.sampled_from(CUSTOM), min_size=18, max_size=20, unique=True),
    )
    def add(self, stages: list[str] | None) -> None:
        self.count += 1
        vid = f"v{self.count:02d}-" + "x" * 28
        self._call(labels.add_version, ref_add(self.stages, vid, stages), vid, stages)

    @rule(
        data=st.data(),
        to=st.integers(-1, 12),
        frm=st.integers(-1, 12),
        mode=st.sampled_from(["holder", "holder", "random", "none"]),
    )
    @precondition(lambda self: bool(self.stages))
    def move(self, data: st.DataObject, to: int, frm: int, mode: str) -> None:
        held = sorted({label for ls in self.stages.values() for label in ls})
        label = data.draw(st.sampled_from(held) | label_st if held else label_st)
        move_to = self._vid(to)
        remove_from = {
            "holder": _holder(self.stages, label),  # as a careful caller would
            "random": self._vid(frm),
            "none": None,
        }[mode]
        expected = ref_move(self.stages, label, move_to, remove_from)
        self._call(labels.move_label, expected, label, move_to=move_to, remove_from=remove_from)

    @invariant()
    def holds(self) -> None:
        check_invariants(self.stages)


LabelMachine.TestCase.settings = settings(max_examples=250, stateful_step_count=30, deadline=None)
TestLabelMachine = LabelMachine.TestCase


# -- specific cases ------------------------------------------------------------------------------

A, B, C = "a" * 32, "b" * 32, "c" * 32


def test_first_version_gets_current_even_with_other_stages() -> None:
    out = labels.add_version({}, A, ["AWSPENDING"])
    assert set(out[A]) == {AWSPENDING, AWSCURRENT}


def test_new_current_demotes_old_and_drops_old_previous() -> None:
    s = labels.add_version({}, A, None)
    s = labels.add_version(s, B, None)
    s = labels.add_version(s, C, None)
    assert s == {A: [], B: [AWSPREVIOUS], C: [AWSCURRENT]}


def test_pending_version_leaves_current_alone() -> None:
    s = labels.add_version({}, A, None)
    s = labels.add_version(s, B, [AWSPENDING])
    assert s == {A: [AWSCURRENT], B: [AWSPENDING]}


def test_move_current_requires_remove_from_and_moves_previous() -> None:
    s = labels.add_version(labels.add_version({}, A, None), B, [AWSPENDING])
    with pytest.raises(InvalidParameterException, match="RemoveFromVersionId"):
        labels.move_label(s, AWSCURRENT, move_to=B, remove_from=None)
    out = labels.move_label(s, AWSCURRENT, move_to=B, remove_from=A)
    assert _normal(out) == {A: {AWSPREVIOUS}, B: {AWSPENDING, AWSCURRENT}}


def test_rollback_to_previous() -> None:
    s = labels.add_version(labels.add_version({}, A, None), B, None)
    out = labels.move_label(s, AWSCURRENT, move_to=A, remove_from=B)
    assert out == {A: [AWSCURRENT], B: [AWSPREVIOUS]}


def test_cannot_remove_current_without_moving_it() -> None:
    s = labels.add_version({}, A, None)
    before = copy.deepcopy(s)
    with pytest.raises(InvalidParameterException, match="MoveToVersionId"):
        labels.move_label(s, AWSCURRENT, move_to=None, remove_from=A)
    with pytest.raises(InvalidParameterException):
        labels.move_label(s, "X", move_to=None, remove_from=None)
    with pytest.raises(InvalidParameterException):
        labels.move_label({}, "X", move_to=None, remove_from=None)
    with pytest.raises(InvalidParameterException):
        labels.move_label(s, "X", move_to=A, remove_from=A)
    assert s == before


def test_listed_previous_stays_on_new_version_in_any_order() -> None:
    s = labels.add_version({}, A, None)
    for stages in ([AWSCURRENT, AWSPREVIOUS], [AWSPREVIOUS, AWSCURRENT]):
        out = labels.add_version(s, B, stages)
        assert _normal(out) == {A: set(), B: {AWSCURRENT, AWSPREVIOUS}}
        assert labels.invariant_problems(out) == []


def test_twenty_label_limit() -> None:
    s = labels.add_version({}, A, None)
    s = labels.add_version(s, B, CUSTOM[:20])
    assert len(s[B]) == 20
    before = copy.deepcopy(s)
    with pytest.raises(LimitExceededException, match="20"):
        labels.move_label(s, AWSPENDING, move_to=B, remove_from=None)
    with pytest.raises(LimitExceededException):
        labels.add_version({}, C, CUSTOM[:20])  # AWSCURRENT would be the 21st
    assert s == before
