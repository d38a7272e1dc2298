"""Learning-rate schedules: the string grammar, each kind's formula, every error, and the logged
rates of Luo et al. 2025 reproduced from the schedule strings."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from bayeslaws.data.schedules import SCHEDULE_KINDS, Schedule, ScheduleError, parse_schedule

LUO_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multipower_luo2025"
LUO_COMMON = "warmup=2160,peak=3e-4"
LUO_SCHEDULES = {  # file stem -> schedule string (PROVENANCE.md in LUO_DIR)
    "cosine_24000": f"cosine:{LUO_COMMON},total=24000,final=3e-5",
    "cosine_72000": f"cosine:{LUO_COMMON},total=72000,final=3e-5",
    "constant_24000": f"constant:{LUO_COMMON},total=24000",
    "constant_72000": f"constant:{LUO_COMMON},total=72000",
    "wsd_20000_24000": f"wsd:{LUO_COMMON},total=24000,decay_start=20000,final=3e-5,shape=geometric",
    "wsdld_20000_24000": f"wsd:{LUO_COMMON},total=24000,decay_start=20000,final=3e-5,shape=linear",
    **{f"wsdcon_{x}": f"step:{LUO_COMMON},total=16000,drop_at=8000,to={x * 1e-5!r}" for x in (3, 9, 18)},
}
LUO_SIZES = ("csv_25", "csv_100")
needs_luo = pytest.mark.skipif(not LUO_DIR.is_dir(), reason=f"Luo et al. 2025 dataset not found at {LUO_DIR}")

ONE_OF_EACH_KIND = [
    "constant:peak=1e-3,total=100",
    "cosine:warmup=2160,peak=3e-4,total=24000,final=3e-5",
    "wsd:warmup=10,peak=0.1,total=2e3,decay_start=1.5e3,final=1e-3,shape=sqrt",
    "step:peak=3e-4,total=16000,drop_at=8000,to=3.0000000000000004e-05",
]


def lr(text, steps):
    return parse_schedule(text).lr(np.array(steps))


# --- grammar and round trip ---------------------------------------------------------------------


def test_every_kind_has_an_example():
    assert sorted(text.partition(":")[0] for text in ONE_OF_EACH_KIND) == sorted(SCHEDULE_KINDS)


@pytest.mark.parametrize("text", ONE_OF_EACH_KIND)
def test_round_trip_through_the_canonical_string(text):
    schedule = parse_schedule(text)
    again = parse_schedule(str(schedule))
    assert again == schedule
    assert hash(again) == hash(schedule)
    assert str(again) == str(schedule)


def test_canonical_string_orders_keys_and_writes_exact_numbers():
    schedule = parse_schedule("cosine:final=3e-5,total=2.4e4,peak=3e-4,warmup=2160")
    assert str(schedule) == "cosine:warmup=2160,peak=0.0003,total=24000,final=3e-05"
    assert schedule == Schedule("cosine", peak=3e-4, total=24000, warmup=2160, options=(("final", 3e-5),))
    assert isinstance(schedule.total, int) and isinstance(schedule.warmup, int)


def test_canonical_string_keeps_a_rate_to_the_last_bit():
    rate = 0.1 + 0.2  # 0.30000000000000004
    schedule = parse_schedule(f"constant:peak={rate!r},total=10")
    assert parse_schedule(str(schedule)).peak == rate


def test_options_are_stored_in_canonical_order():
    schedule = Schedule("step", peak=1.0, total=10, options=(("to", 0.1), ("drop_at", 5)))
    assert schedule.options == (("drop_at", 5), ("to", 0.1))
    assert schedule == parse_schedule("step:peak=1,total=10,drop_at=5,to=0.1")


def test_warmup_defaults_to_zero():
    assert parse_schedule("constant:peak=1e-3,total=100").warmup == 0


# --- formulas at hand-computed steps ------------------------------------------------------------


def test_constant_with_linear_warmup():
    got = lr("constant:warmup=4,peak=1,total=10", [0, 1, 2, 3, 4, 9, 10])
    np.testing.assert_allclose(got, [0, 0.25, 0.5, 0.75, 1, 1, 1], rtol=1e-15)


def test_cosine_without_warmup():
    got = lr("cosine:peak=2,total=4,final=1", [0, 1, 2, 3, 4])
    half = math.sqrt(2) / 2
    np.testing.assert_allclose(got, [2, 1 + (1 + half) / 2, 1.5, 1 + (1 - half) / 2, 1], rtol=1e-15)


def test_cosine_after_warmup():
    got = lr("cosine:warmup=10,peak=1,total=110,final=0.5", [0, 5, 10, 60, 110])
    np.testing.assert_allclose(got, [0, 0.5, 1, 0.75, 0.5], rtol=1e-15)


def test_wsd_linear():
    got = lr("wsd:warmup=2,peak=1,total=10,decay_start=6,final=0.2,shape=linear", [1, 2, 5, 6, 8, 10])
    np.testing.assert_allclose(got, [0.5, 1, 1, 1, 0.6, 0.2], rtol=1e-15)


def test_wsd_geometric_is_log_linear():
    got = lr("wsd:peak=1,total=10,decay_start=6,final=0.01,shape=geometric", [5, 6, 8, 10])
    np.testing.assert_allclose(got, [1, 1, 0.1, 0.01], rtol=1e-15)


def test_wsd_sqrt_cooldown():
    got = lr("wsd:peak=1,total=14,decay_start=6,final=0.5,shape=sqrt", [5, 6, 8, 10, 14])
    np.testing.assert_allclose(got, [1, 1, 0.75, 0.5 + 0.5 * (1 - math.sqrt(0.5)), 0.5], rtol=1e-15)


def test_wsd_decay_of_zero_length_drops_at_total():
    got = lr("wsd:peak=1,total=10,decay_start=10,final=0.1,shape=linear", [0, 9, 10])
    np.testing.assert_allclose(got, [1, 1, 0.1], rtol=1e-15)


def test_step_drops_at_drop_at():
    got = lr("step:warmup=2,peak=1,total=10,drop_at=5,to=0.1", [0, 1, 2, 4, 5, 9, 10])
    np.testing.assert_allclose(got, [0, 0.5, 1, 1, 0.1, 0.1, 0.1], rtol=1e-15)


@pytest.mark.parametrize("text", ONE_OF_EACH_KIND)
def test_past_total_the_rate_holds_its_end_value(text):
    schedule = parse_schedule(text)
    at_total, just_after, long_after = schedule.lr(np.array([schedule.total, schedule.total + 1, 10 * schedule.total]))
    assert at_total == just_after == long_after


def test_lr_is_float64_and_keeps_the_shape():
    schedule = parse_schedule(ONE_OF_EACH_KIND[1])
    grid = schedule.lr(np.arange(12, dtype=np.int32).reshape(3, 4))
    assert grid.dtype == np.float64 and grid.shape == (3, 4)
    assert schedule.lr(2160).shape == ()
    assert schedule.lr(2160) == pytest.approx(3e-4, rel=1e-15)


def test_lr_refuses_negative_steps():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        parse_schedule("constant:peak=1,total=10").lr([3, -1])


# --- errors -------------------------------------------------------------------------------------

ERRORS = [  # (schedule string, key or kind named in the message)
    ("cosine:peak=3e-4,total=100", "missing key 'final'"),
    ("constant:warmup=2,total=100", "missing key 'peak'"),
    ("cosine:peak=3e-4,final=3e-5", "missing key 'total'"),
    ("linear:peak=3e-4,total=100", "unknown kind 'linear'; the kinds are constant, cosine, wsd, step"),
    ("peak=3e-4,total=100", "expected KIND:key=value"),
    ("cosine:peak=3e-4,total=100,final=3e-5,min=1e-5",
     "unknown key 'min' for kind 'cosine'; its keys are warmup, peak, total, final"),
    ("constant:peak=3e-4,total=100,shape=linear", "unknown key 'shape' for kind 'constant'"),
    ("constant:peak=3e-4,peak=1e-4,total=100", "key 'peak' is given twice"),
    ("constant:peak=3e-4,total", "item 'total' is not key=value"),
    ("constant:peak=fast,total=100", "key 'peak' = 'fast' is not a number"),
    ("constant:peak=3e-4,total=", "key 'total' = '' is not a number"),
    ("constant:peak=0,total=100", "key 'peak' must be a learning rate > 0"),
    ("cosine:peak=3e-4,total=100,final=-3e-5", "key 'final' must be a learning rate > 0"),
    ("step:peak=3e-4,total=100,drop_at=50,to=0", "key 'to' must be a learning rate > 0"),
    ("constant:peak=inf,total=100", "key 'peak' must be a learning rate > 0"),
    ("constant:peak=3e-4,total=100.5", "key 'total' must be a whole number"),
    ("constant:warmup=2.5,peak=3e-4,total=100", "key 'warmup' must be a whole number"),
    ("constant:warmup=-1,peak=3e-4,total=100", "key 'warmup' must be a whole number of steps >= 0"),
    ("constant:warmup=100,peak=3e-4,total=100", "key 'warmup' = 100 must be below total = 100"),
    ("wsd:warmup=10,peak=1,total=100,decay_start=5,final=0.1,shape=linear",
     "key 'decay_start' = 5 must lie in [warmup, total] = [10, 100]"),
    ("wsd:peak=1,total=100,decay_start=101,final=0.1,shape=linear", "key 'decay_start' = 101 must lie in"),
    ("step:warmup=10,peak=1,total=100,drop_at=10,to=0.1", "key 'drop_at' = 10 must lie in (warmup, total] = (10, 100]"),
    ("step:peak=1,total=100,drop_at=101,to=0.1", "key 'drop_at' = 101 must lie in"),
    ("wsd:peak=1,total=100,decay_start=50,final=0.1,shape=cubic",
     "key 'shape' = 'cubic' is unknown; the shapes are linear, geometric, sqrt"),
]


@pytest.mark.parametrize("text, problem", ERRORS)
def test_errors_name_the_run_the_schedule_and_the_key(text, problem):
    with pytest.raises(ScheduleError, match=re.escape(f"run 'r3': schedule {text!r}: {problem}")):
        parse_schedule(text, run_id="r3")


def test_errors_without_a_run_start_at_the_schedule():
    with pytest.raises(ScheduleError, match=r"^schedule 'cosine:peak=3e-4,total=100': missing key 'final'$"):
        parse_schedule("cosine:peak=3e-4,total=100")


def test_schedule_error_is_a_value_error():
    assert issubclass(ScheduleError, ValueError)


@pytest.mark.parametrize("fields, problem", [
    (dict(kind="cosine", peak=1e-3, total=100), "missing key 'final'"),
    (dict(kind="exp", peak=1e-3, total=100), "unknown kind 'exp'"),
    (dict(kind="constant", peak=1e-3, total=100, options=(("final", 1e-4),)), "unknown key 'final'"),
    (dict(kind="constant", peak=1e-3, total=100, warmup=200), "key 'warmup' = 200 must be below total"),
])
def test_direct_construction_is_checked_too(fields, problem):
    with pytest.raises(ScheduleError, match=r"^schedule Schedule\(kind=.*" + re.escape(problem)):
        Schedule(**fields)


# --- the logged rates of Luo et al. 2025 --------------------------------------------------------


@needs_luo
def test_every_luo_file_has_a_schedule():
    for size in LUO_SIZES:
        assert sorted(path.stem for path in (LUO_DIR / size).glob("*.csv")) == sorted(LUO_SCHEDULES)


@needs_luo
@pytest.mark.parametrize("size", LUO_SIZES)
@pytest.mark.parametrize("stem", sorted(LUO_SCHEDULES))
def test_schedule_reproduces_the_logged_learning_rate(size, stem):
    path = LUO_DIR / size / f"{stem}.csv"
    assert path.open().readline().strip() == "step,lr,loss"
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    steps, logged = table[:, 0].astype(np.int64), table[:, 1]
    assert np.array_equal(steps, table[:, 0]) and len(steps) > 90
    schedule = parse_schedule(LUO_SCHEDULES[stem], run_id=f"{size}/{stem}")
    np.testing.assert_allclose(schedule.lr(steps), logged, rtol=1e-9, atol=0)
