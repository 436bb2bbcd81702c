"""The quick and full profiles: sizes, rates and settings of a run."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.stats import ArrivalCurve

# The benchmark's parts in the order they run; a profile's ``parts`` are the default of --parts.
ALL_PARTS = (
    "crowd",
    "ceilings",
    "drills",
    "scale",
    "pools",
    "failover_redis",
    "failover_postgres",
    "tuning",
)


@dataclass(frozen=True)
class Profile:
    """Everything that differs between ``make bench`` and ``make bench-full``."""

    name: str
    workers: int = 2  # per app server without nginx (two servers)
    worker_class: str = "sync"
    # Behind nginx: the waiting-room and booking pools' workers; 0 splits the same total as
    # without nginx (2 x workers) a third and two thirds (bench.nginx.pool_split).
    waiting_workers: int = 0
    booking_workers: int = 0
    # A normal day: base_rate new residents per second (120 a minute); the 6 a.m. spike is 70
    # times that, 140 a second, reached in 5 s: steep enough that, with the queue off, the stack
    # is offered more bookings than it can serve while places remain (about 80 hold + confirm
    # per second measured on this machine), which a gentler 35 a second was not.
    curve: ArrivalCurve = field(
        default_factory=lambda: ArrivalCurve(
            base_rate=2.0, spike_factor=70, ramp_s=5, hold_s=10, decay_s=10
        )
    )
    # The second crowd (queue on only): the spike this many times the normal day, 280/s.
    high_spike_factor: int = 140
    crowd_s: float = 90.0
    crowd_clinics: int = 20
    slots_per_clinic: int = 12
    # 1,200 places: enough that they last through the spike instead of selling out in seconds.
    slot_capacity: int = 5
    max_active: int = 400
    admit_per_minute: int = 1_200
    idle_minutes: int = 2
    ceiling_s: float = 10.0
    ceiling_concurrency: int = 32
    scale_slots: tuple[int, ...] = (10_000, 100_000)
    scale_waiting: tuple[int, ...] = (1_000, 100_000)
    scale_samples: int = 100
    # Waiting-room + booking workers, measured side by side by the pools part.
    pool_splits: tuple[tuple[int, int], ...] = ((1, 3), (2, 2))
    parts: tuple[str, ...] = ALL_PARTS
    # Extra options of the two failover drills (bench/failover_crowd.py's); none: their own.
    failover_args: tuple[str, ...] = ()
    drill_s: float = 40.0
    tuning_s: float = 75.0  # a rate 10x too low needs about ten x1.25 steps of 5 s to ramp up
    drill_at_s: float = 12.0
    drill_curve: ArrivalCurve = field(
        default_factory=lambda: ArrivalCurve(
            base_rate=0.5, spike_factor=20, ramp_s=5, hold_s=25, decay_s=10
        )
    )


QUICK = Profile(name="quick")
FULL = Profile(
    name="full",
    crowd_s=180.0,
    crowd_clinics=50,
    slots_per_clinic=20,
    ceiling_s=20.0,
    scale_slots=(10_000, 100_000, 1_000_000),
    scale_waiting=(1_000, 100_000, 1_000_000),
    scale_samples=200,
    drill_s=60.0,
    drill_at_s=20.0,
)
# A few minutes: proves every part runs end to end (its figures mean nothing).
SMOKE = Profile(
    name="smoke",
    curve=ArrivalCurve(base_rate=2.0, spike_factor=70, ramp_s=3, hold_s=4, decay_s=4),
    crowd_s=25.0,
    slot_capacity=2,
    ceiling_s=3.0,
    scale_slots=(10_000,),
    scale_waiting=(1_000, 10_000),
    scale_samples=20,
    drill_s=25.0,
    drill_at_s=8.0,
    tuning_s=20.0,
    failover_args=("--browsers", "12", "--api", "6", "--seconds", "30", "--kill-at", "3"),
)
PROFILES = {"quick": QUICK, "full": FULL, "smoke": SMOKE}
