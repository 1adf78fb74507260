import pytest

from ketaclinic.errors import InvalidInput, InvalidTransition
from ketaclinic.infusions.core import (
    GUARDS,
    TERMINAL,
    TRANSITIONS,
    GuardContext,
    Move,
    State,
    allowed_moves,
    transition,
)

#: A context that satisfies every guard, so table tests test only the table.
ALL_MET = GuardContext(
    order_signed=True,
    second_nurse_verified=True,
    starter_is_not_verifier=True,
    no_bp_block=True,
    reason="patient asked",
    discharge_problems=(),
)

EXPECTED = {
    ("scheduled", "check_in"): "checked_in",
    ("scheduled", "cancel"): "cancelled",
    ("scheduled", "mark_no_show"): "no_show",
    ("scheduled", "abort"): "aborted",
    ("checked_in", "start"): "infusing",
    ("checked_in", "abort"): "aborted",
    ("infusing", "pause"): "paused",
    ("infusing", "stop"): "observing",
    ("infusing", "abort"): "aborted",
    ("paused", "resume"): "infusing",
    ("paused", "stop"): "observing",
    ("paused", "abort"): "aborted",
    ("observing", "discharge"): "discharged",
    ("observing", "abort"): "aborted",
}


def test_the_table_is_exactly_the_design_diagram() -> None:
    assert {(s.value, m.value): t.value for (s, m), t in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(("state", "move"), list(EXPECTED))
def test_every_allowed_move_leads_to_its_state(state: str, move: str) -> None:
    assert transition(state, move, ALL_MET) == EXPECTED[(state, move)]


ILLEGAL = [
    (state.value, move.value)
    for state in State
    for move in Move
    if (state.value, move.value) not in EXPECTED
]


@pytest.mark.parametrize(("state", "move"), ILLEGAL)
def test_every_other_move_is_a_409_naming_state_and_allowed_moves(state: str, move: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(state, move, ALL_MET)
    assert caught.value.status_code == 409
    assert f"cannot {move} from {state}; allowed: " in caught.value.msg
    for allowed in allowed_moves(state):
        assert allowed in caught.value.msg


def test_start_from_scheduled_message_lists_the_moves_in_order() -> None:
    with pytest.raises(
        InvalidTransition,
        match=r"^cannot start from scheduled; allowed: "
        r"check_in, cancel, mark_no_show, abort$",
    ):
        transition("scheduled", "start", ALL_MET)


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_final_states_allow_nothing(state: State) -> None:
    assert allowed_moves(state) == ()
    with pytest.raises(InvalidTransition, match="allowed: none"):
        transition(state, "abort", ALL_MET)


def test_abort_is_not_allowed_after_cancel_or_no_show_or_discharge() -> None:
    for state in ("cancelled", "no_show", "discharged", "aborted"):
        assert "abort" not in allowed_moves(state)


def test_the_table_is_checked_before_the_guards() -> None:
    with pytest.raises(InvalidTransition):
        transition("scheduled", "start", GuardContext())


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ({"order_signed": False}, "start needs a signed physician order"),
        ({"second_nurse_verified": False}, "start needs a second nurse's pump verification"),
        ({"no_bp_block": False}, "start needs the blood-pressure block resolved first"),
        (
            {"starter_is_not_verifier": False},
            "start needs a nurse other than the one who did the second check: the nurse who "
            "verified may not start the infusion (an independent double check needs two nurses)",
        ),
    ],
)
def test_start_refuses_each_unmet_guard_by_name(missing: dict[str, bool], message: str) -> None:
    met = {
        "order_signed": True,
        "second_nurse_verified": True,
        "starter_is_not_verifier": True,
        "no_bp_block": True,
    } | missing
    context = GuardContext(
        order_signed=met["order_signed"],
        second_nurse_verified=met["second_nurse_verified"],
        starter_is_not_verifier=met["starter_is_not_verifier"],
        no_bp_block=met["no_bp_block"],
    )
    with pytest.raises(InvalidInput) as caught:
        transition("checked_in", "start", context)
    assert caught.value.status_code == 422
    assert caught.value.msg == message


def test_start_with_nothing_known_lists_all_three_guards() -> None:
    with pytest.raises(InvalidInput) as caught:
        transition("checked_in", "start", GuardContext())
    assert caught.value.msg.count("start needs") == 3
    assert caught.value.loc == ("order_signed",)


@pytest.mark.parametrize("move", ["pause", "abort"])
@pytest.mark.parametrize("reason", [None, "", "   \t"])
def test_pause_and_abort_need_a_non_blank_reason(move: str, reason: str | None) -> None:
    with pytest.raises(InvalidInput, match=f"^{move} needs a non-blank reason$"):
        transition("infusing", move, GuardContext(reason=reason))
    assert transition("infusing", move, GuardContext(reason="nausea")) in ("paused", "aborted")


def test_resume_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match="resume needs a non-blank reason"):
        transition("paused", "resume", GuardContext(no_bp_block=True, reason="  "))


def test_resume_is_held_while_a_bp_block_is_unresolved() -> None:
    with pytest.raises(InvalidInput, match="resume needs the blood-pressure block resolved"):
        transition("paused", "resume", GuardContext())
    resumed = transition("paused", "resume", GuardContext(no_bp_block=True, reason="BP 150/88"))
    assert resumed == "infusing"


def test_discharge_needs_an_assessment() -> None:
    with pytest.raises(InvalidInput, match="discharge needs a discharge assessment"):
        transition("observing", "discharge", GuardContext())


def test_discharge_refuses_with_every_problem_listed() -> None:
    problems = ("observation not complete", "no responsible adult escort confirmed")
    with pytest.raises(InvalidInput) as caught:
        transition("observing", "discharge", GuardContext(discharge_problems=problems))
    assert caught.value.msg == (
        "discharge criteria not met: observation not complete; "
        "no responsible adult escort confirmed"
    )


def test_moves_without_guards_need_nothing() -> None:
    unguarded = set(Move) - set(GUARDS)
    assert unguarded == {Move.CHECK_IN, Move.STOP, Move.CANCEL, Move.MARK_NO_SHOW}
    assert transition("scheduled", "check_in", GuardContext()) == "checked_in"
    assert transition("infusing", "stop", GuardContext()) == "observing"


def test_unknown_state_or_move_is_invalid_input_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="unknown state 'running'; known: scheduled"):
        transition("running", "stop", ALL_MET)
    with pytest.raises(InvalidInput, match="unknown move 'finish'; known: check_in"):
        transition("infusing", "finish", ALL_MET)
    with pytest.raises(InvalidInput):
        allowed_moves("nope")


def test_a_whole_session_walks_the_happy_path() -> None:
    state: str = "scheduled"
    for move in ("check_in", "start", "pause", "resume", "stop", "discharge"):
        state = transition(state, move, ALL_MET)
    assert state == "discharged"
