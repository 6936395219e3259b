"""How many threads minivae's matrix products (BLAS) and parallel Numba loops use: chosen for the machine as it is.

Two BLAS threads speed up a large matrix product on two idle cores, but on a machine whose other programs keep a core
busy they are slower than one (1.6x for the README's 784-400-20 VAE, "A busy machine"): every product ends with the
threads waiting for each other, and one of them keeps losing its core to the other program. So, unless told otherwise, every command counts
the cores that are free when it starts and uses that many:

    busy    = (1 - idle fraction) * cores        the other programs' load, from /proc/stat over 0.1 s (elsewhere:
                                                  the 1-minute load average, which also counts programs just ended)
    threads = max(1, round(min(usable, cores - busy) / ranks))      usable: the cores this process may run on

where ``ranks`` is 1, or under an MPI launcher the number of ranks it started on this machine (MPI_LOCALNRANKS from
MPICH's Hydra, OMPI_COMM_WORLD_LOCAL_SIZE from Open MPI): ``mpiexec -n 2`` on two cores gives each rank one thread
instead of two ranks fighting over two cores with two threads each.

Who decides, first match wins:

    1. ``--threads N`` (every command)
    2. the environment variable ``MINIVAE_THREADS=N``
    3. a thread variable already set (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or MKL_NUM_THREADS): a choice made
       outside minivae (a notebook, a CI job, a job scheduler) is left as it is
    4. the count above, measured once per process

The count is made when the command starts; a program that starts later is not seen (give ``--threads 1`` when you
know the machine will be busy). The count changes the last bits of some products: OpenBLAS sums a long product
(784 inputs, say) in another order with two threads than with one, so a training run differs from one with another
count by rounding, which grows over the epochs. A seed and a thread count repeat a run bit for bit; ``train`` prints
its count and records it in config.json, and ``--threads N`` repeats it (checked by tests/test_threads.py).

Example
-------
>>> choice = choose_threads(2)
>>> choice.threads, choice.reason
(2, '--threads 2')
"""
import os
import time
from dataclasses import dataclass

ENVIRONMENT = "MINIVAE_THREADS"
LOCAL_RANKS_VARIABLES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")  # set by MPICH's Hydra, by Open MPI
OUTSIDE_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class ThreadChoice:
    """``threads``: the count to use, None to leave the libraries as they are; ``reason``: why, for one line."""
    threads: object
    reason: str


def _positive_count(text, where):
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ValueError(f"{where} must be a whole number of threads, at least 1, got {text!r}")
    return value


def usable_cores():
    """The cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times(stat="/proc/stat"):
    """(idle, total) jiffies of all cores together, from the first line of /proc/stat."""
    with open(stat) as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return idle, sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)


def busy_cores(interval=0.1, stat="/proc/stat"):
    """How many cores the machine's programs keep busy now: (1 - idle fraction) * cores, over ``interval`` s."""
    cores = os.cpu_count() or 1
    try:
        idle0, total0 = _cpu_times(stat)
        time.sleep(interval)
        idle1, total1 = _cpu_times(stat)
    except (OSError, ValueError, IndexError):
        return min(float(cores), os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0.0
    if total1 <= total0:
        return 0.0
    return cores * (1 - (idle1 - idle0) / (total1 - total0))


def threads_for(usable, cores, busy, ranks=1):
    """max(1, round(min(usable, cores - busy) / ranks)): the formula of the module docstring."""
    return max(1, int(round(min(usable, cores - busy) / ranks)))


def ranks_on_this_machine(environ):
    """How many ranks an MPI launcher started on this machine (1 without a launcher, or when it does not say)."""
    for name in LOCAL_RANKS_VARIABLES:
        try:
            return max(1, int(environ[name]))
        except (KeyError, ValueError):
            continue
    return 1


_measured = None  # the count of rule 4, made once per process


def choose_threads(requested=None, environ=None):
    """The ThreadChoice by the rules of the module docstring; ``requested``: the --threads value, or None."""
    global _measured
    environ = os.environ if environ is None else environ
    if requested is not None:
        return ThreadChoice(_positive_count(requested, "--threads"), f"--threads {requested}")
    if environ.get(ENVIRONMENT, "").strip():
        n = _positive_count(environ[ENVIRONMENT], ENVIRONMENT)
        return ThreadChoice(n, f"{ENVIRONMENT}={n}")
    for name in OUTSIDE_VARIABLES:
        if environ.get(name, "").strip():
            return ThreadChoice(None, f"{name}={environ[name]} (set outside minivae; {ENVIRONMENT} or --threads "
                                      "overrides it)")
    if _measured is None:
        usable, cores, busy = usable_cores(), os.cpu_count() or 1, busy_cores()
        ranks = ranks_on_this_machine(environ)
        shared = f", shared by {ranks} ranks" if ranks > 1 else ""
        _measured = ThreadChoice(threads_for(usable, cores, busy, ranks),
                                 f"{cores} cores, {busy:.1f} busy with other programs, {usable} usable{shared}")
    return _measured


def use_threads(choice):
    """Limit the BLAS library's threads (threadpoolctl) and Numba's parallel loops to ``choice.threads``."""
    if choice.threads is None:
        return
    import numba
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=choice.threads, user_api="blas")
    numba.set_num_threads(min(choice.threads, numba.config.NUMBA_NUM_THREADS))
