"""The privacy accountant of DP-SGD: the Renyi DP of the sampled Gaussian mechanism, converted to (epsilon, delta).

One step of DP-SGD is the **sampled Gaussian mechanism**: every example enters the batch on its own with probability
q (Poisson sampling), each example's gradient is clipped to norm C, and Gaussian noise of standard deviation sigma * C
is added to their sum (sigma is the *noise multiplier*). Adding or removing one example changes the output's
distribution at worst from mu0 to mu (Mironov, Talwar & Zhang 2019, "Renyi Differential Privacy of the Sampled
Gaussian Mechanism", Theorem 4), two densities on the real line:

    mu0 = N(0, sigma^2)          mu = (1 - q) N(0, sigma^2) + q N(1, sigma^2)

Renyi DP at order alpha > 1 is the Renyi divergence of mu from mu0:

    rdp(alpha) = log(A_alpha) / (alpha - 1),        A_alpha = E_{z ~ mu0} [ (mu(z) / mu0(z))^alpha ]

**Integer alpha** (their Section 3.2): the binomial theorem, and E_mu0[(mu1 / mu0)^k] = exp((k^2 - k) / (2 sigma^2)):

    A_alpha = sum_{k=0..alpha} C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))

summed in log space (a logsumexp: at alpha = 1024 the last term is about exp(1024^2 / (2 sigma^2))).

**Fractional alpha** (their Section 3.3): split the integral at z0 = sigma^2 log(1/q - 1) + 1/2, the point where
(1 - q) mu0 = q mu1. Left of z0 expand (mu / mu0)^alpha = ((1 - q) + q mu1 / mu0)^alpha, right of z0 expand
(mu / mu0)^alpha = (mu1 / mu0)^alpha (q + (1 - q) mu0 / mu1)^alpha, each by the binomial series, whose ratio is at most
1 there; each term integrates to a Gaussian's mass on one side of z0 (Phi, the standard normal CDF, is
erfc(-x / sqrt 2) / 2 of the paper), with j = alpha - k:

    A_alpha = sum_{k>=0} |C(alpha, k)| (1 - q)^j q^k exp((k^2 - k) / (2 sigma^2)) Phi((z0 - k) / sigma)
            + sum_{k>=0} |C(alpha, k)| q^j (1 - q)^k exp((j^2 - j) / (2 sigma^2)) Phi((j - z0) / sigma)

C(alpha, k) = Gamma(alpha + 1) / (Gamma(k + 1) Gamma(alpha - k + 1)) changes sign for k > alpha; the absolute values
are summed, as TF Privacy, Opacus and dp-accounting do, which bounds A_alpha from above: the RDP is never understated,
but it is loose at low fractional orders (measured against the integral at q = 0.05, sigma = 1: 18% above it at
alpha = 1.5, 0.04% at 4.5, 1e-9 at 8.1). It matters only where the best order is low, which takes little noise: at
q = 0.01, sigma = 0.5, 5,000 steps, delta = 1e-5 the best order is 1.7 and epsilon 32.8, 2.5% above the 32.0 the
integral gives; at the two anchors (orders 8.1 and 17) the difference is below 1e-9.
The terms are added until both series fall and their new terms are below e^-30 of the total; an order whose series
has not converged after MAX_SERIES_TERMS terms gets rdp = inf, which leaves it out of the minimum below.

Special cases: q = 0 gives 0 (no example is ever looked at); q = 1 is the Gaussian mechanism, rdp = alpha / (2 sigma^2).
**Composition**: T steps have T times the RDP of one (Mironov 2017, Proposition 1), at every order.

**Conversion to (epsilon, delta)** at each order, then the smallest epsilon over the orders:

    standard  (Mironov 2017, Proposition 3):       eps = rdp - log(delta) / (alpha - 1)
    tight     (Canonne, Kamath & Steinke 2020, Proposition 12; Balle et al. 2020, Theorem 21):
              eps = rdp + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)

The tight one is the default, as in Google's dp-accounting; both also use that rdp bounds the KL divergence, and
total variation <= sqrt(1 - exp(-KL)) (Bretagnolle-Huber): when 1 - exp(-rdp) < delta^2, epsilon = 0.
DEFAULT_ORDERS is dp-accounting's grid (``DEFAULT_RDP_ORDERS``): 1.1, 1.2, ..., 10.9, then 11, 12, ..., 63, then 128,
256, 512, 1024.

Example
-------
>>> eps, order = epsilon(q=256 / 60000, sigma=1.1, steps=14062, delta=1e-5)   # 60 epochs of MNIST, batch 256
>>> round(eps, 3), order
(2.597, 8.1)
"""
import math
from numbers import Integral

import numpy as np

DEFAULT_ORDERS = tuple([1 + x / 10 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512, 1024])
MAX_SERIES_TERMS = 1000  # of each fractional series, as in dp-accounting
SIGMA_RANGE = (0.1, 1000.0)  # where noise_multiplier_for searches: below 0.1 there is no privacy left to speak of
SIGMA_RTOL = 1e-4  # noise_multiplier_for's answer is the least sigma that meets the target, to this relative error
MAX_STEPS = 10**12  # steps_for refuses a budget of more steps than this (far more noise than the budget needs)
CONVERSIONS = ("tight", "standard")


def _check_q(q):
    if not 0 <= q <= 1:
        raise ValueError(f"the sampling rate q must lie in [0, 1], got {q}")


def _check_sigma(sigma):
    if not 0 < sigma < math.inf:
        raise ValueError(f"the noise multiplier sigma must be a positive finite number, got {sigma}")


def _check_steps(steps):
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 0:
        raise ValueError(f"steps must be a whole number >= 0, got {steps!r}")


def _check_delta(delta):
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie strictly between 0 and 1, got {delta}")


def _check_target(target_epsilon):
    if not 0 < target_epsilon < math.inf:
        raise ValueError(f"the target epsilon must be a positive finite number, got {target_epsilon}")


def _as_orders(orders):
    orders = np.asarray(orders, dtype=np.float64)
    if orders.ndim != 1 or orders.size == 0 or not np.all(orders > 1) or not np.all(np.isfinite(orders)):
        raise ValueError(f"orders must be a non-empty sequence of finite Renyi orders > 1, got {orders}")
    return orders


def _log_binom(alpha, k):
    """log |C(alpha, k)| = log |Gamma(alpha + 1) / (Gamma(k + 1) Gamma(alpha - k + 1))|, for any real alpha >= 0."""
    return math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)


def _log_phi(t):
    """log Phi(t), Phi the standard normal CDF, to full precision at both ends (scipy's log_ndtr, by hand):

        t > 0:                      log Phi(t) = log1p(-erfc(t / sqrt 2) / 2)      (Phi(t) is near 1: 0 when it is)
        t <= 0, x = -t / sqrt 2:    log Phi(t) = log(erfc(x) / 2)                  for x < 25
                                    erfc(x) = exp(-x^2) / (x sqrt(pi)) (1 - u + 3 u^2 - 15 u^3 + 105 u^4 - ...)
                                    u = 1 / (2 x^2), for x >= 25, where erfc underflows (x > 26); the next term
                                    is below 1e-12 there
    """
    if t > 0:
        return math.log1p(-math.erfc(t / math.sqrt(2)) / 2)
    x = -t / math.sqrt(2)
    if x < 25:
        return math.log(math.erfc(x) / 2)
    u = 1 / (2 * x * x)
    return -x * x - math.log(2 * x * math.sqrt(math.pi)) + math.log1p(u * (-1 + u * (3 + u * (-15 + 105 * u))))


def _log_add(x, y):
    """log(exp(x) + exp(y)) = max + log1p(exp(-|x - y|)), with math's exp and log1p (within an ulp)."""
    hi, lo = max(x, y), min(x, y)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def _log_sum_exp(log_terms):
    """log sum_i exp(a_i) = m + log1p(sum_{i != i*} exp(a_i - m)),  m = a_{i*} the largest term (a logsumexp).

    log1p and an exact sum (math.fsum) keep the digits that matter when q is small: then A_alpha = 1 + (something
    tiny), the terms nearly cancel to 1, and the RDP is that tiny part (1e-11 at q = 1e-4, sigma = 20), which
    log(sum) would round away.
    """
    top = max(range(len(log_terms)), key=log_terms.__getitem__)
    m = log_terms[top]
    return m + math.log1p(math.fsum(math.exp(a - m) for i, a in enumerate(log_terms) if i != top))


def _log_a_int(q, sigma, alpha):
    """log A_alpha for an integer alpha >= 2 and 0 < q < 1: the binomial sum of the module docstring."""
    log_q, log_1mq = math.log(q), math.log1p(-q)
    return _log_sum_exp([_log_binom(alpha, k) + k * log_q + (alpha - k) * log_1mq + (k * k - k) / (2 * sigma**2)
                         for k in range(alpha + 1)])


def _log_a_frac(q, sigma, alpha):
    """log A_alpha for a fractional alpha > 1 and 0 < q < 1: the two series of the module docstring, side by side."""
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    log_q, log_1mq = math.log(q), math.log1p(-q)
    log_a0 = log_a1 = last0 = last1 = -math.inf
    for k in range(MAX_SERIES_TERMS):
        j = alpha - k
        log_c = _log_binom(alpha, k)
        term0 = log_c + k * log_q + j * log_1mq + (k * k - k) / (2 * sigma**2) + _log_phi((z0 - k) / sigma)
        term1 = log_c + j * log_q + k * log_1mq + (j * j - j) / (2 * sigma**2) + _log_phi((j - z0) / sigma)
        log_a0, log_a1 = _log_add(log_a0, term0), _log_add(log_a1, term1)
        total = _log_add(log_a0, log_a1)
        if term0 < last0 and term1 < last1 and max(term0, term1) < total - 30:
            return total
        last0, last1 = term0, term1
    return math.inf  # not converged: this order is left out


def rdp_sampled_gaussian(q, sigma, steps, orders=DEFAULT_ORDERS):
    """The Renyi DP of ``steps`` steps of the sampled Gaussian mechanism at each order (the module docstring).

        rdp(alpha) = steps * log(A_alpha) / (alpha - 1);   0 if q = 0;   steps * alpha / (2 sigma^2) if q = 1

    Parameters
    ----------
    q : sampling rate in [0, 1] (expected batch size / N)    sigma : noise multiplier > 0 (noise std / clipping norm)
    steps : number of steps, a whole number >= 0             orders : (K,) Renyi orders > 1

    Returns
    -------
    rdp : (K,) float64, inf at an order whose fractional series did not converge

    Example
    -------
    >>> rdp_sampled_gaussian(q=1.0, sigma=2.0, steps=3, orders=[2, 4.5])   # 3 * alpha / (2 * 4)
    array([0.75  , 1.6875])
    """
    _check_q(q)
    _check_sigma(sigma)
    _check_steps(steps)
    orders = _as_orders(orders)
    if q == 0 or steps == 0:
        return np.zeros_like(orders)
    if q == 1:
        return steps * (orders / (2 * sigma**2))
    log_a = [_log_a_int(q, sigma, int(a)) if a.is_integer() else _log_a_frac(q, sigma, a) for a in orders]
    # A_alpha >= 1 (Jensen), but when log A_alpha is below its rounding, 1e-17 (q = 1e-12), it can come out < 0
    log_a = np.maximum(np.array(log_a), 0.0)
    return steps * (log_a / (orders - 1))  # exactly steps times the RDP of one step


def epsilon_from_rdp(orders, rdp, delta, conversion="tight"):
    """The smallest epsilon over the orders at which the mechanism is (epsilon, delta)-DP, and that order.

        tight:     eps(alpha) = rdp + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)
        standard:  eps(alpha) = rdp - log(delta) / (alpha - 1)
        either:    eps(alpha) = 0 when 1 - exp(-rdp) < delta^2;   epsilon = max(0, min_alpha eps(alpha))

    Parameters
    ----------
    orders : (K,) Renyi orders > 1    rdp : (K,) the RDP at those orders, >= 0    delta : in (0, 1)
    conversion : "tight" (the default, as in dp-accounting) or "standard"

    Returns
    -------
    epsilon : float    order : the order that gives it

    Example
    -------
    >>> eps, order = epsilon_from_rdp([2, 8, 32], [0.1, 0.4, 1.6], delta=1e-5, conversion="standard")
    >>> round(eps, 4), order   # 1.6 - log(1e-5) / 31
    (1.9714, 32.0)
    >>> eps, order = epsilon_from_rdp([2, 8, 32], [0.1, 0.4, 1.6], delta=1e-5)   # the tight conversion: smaller
    >>> round(eps, 4), order
    (1.6141, 8.0)
    """
    if conversion not in CONVERSIONS:
        raise ValueError(f"conversion must be one of {CONVERSIONS}, got {conversion!r}")
    _check_delta(delta)
    orders = _as_orders(orders)
    rdp = np.asarray(rdp, dtype=np.float64)
    if rdp.shape != orders.shape:
        raise ValueError(f"rdp must have one value per order: {rdp.shape[0] if rdp.ndim else 0} for {orders.size}")
    if not np.all(rdp >= 0):  # also refuses NaN
        raise ValueError(f"the RDP values must be >= 0 (inf allowed), got {rdp}")
    if conversion == "tight":
        eps = rdp + np.log1p(-1 / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    else:
        eps = rdp - math.log(delta) / (orders - 1)
    eps = np.where(rdp < -math.log1p(-delta**2), 0.0, eps)  # 1 - exp(-rdp) < delta^2: (0, delta)-DP already
    best = int(np.argmin(eps))
    return max(0.0, float(eps[best])), float(orders[best])


def epsilon(q, sigma, steps, delta, orders=DEFAULT_ORDERS):
    """The (epsilon, delta) of ``steps`` steps of DP-SGD: rdp_sampled_gaussian, then epsilon_from_rdp (tight).

    Parameters
    ----------
    q : sampling rate in [0, 1]    sigma : noise multiplier > 0    steps : whole number >= 0    delta : in (0, 1)
    orders : the Renyi orders to minimise over (DEFAULT_ORDERS, dp-accounting's)

    Returns
    -------
    epsilon : float    order : the Renyi order that gives it

    Example
    -------
    >>> eps, order = epsilon(q=250 / 60000, sigma=1.3, steps=3600, delta=1e-5)   # 15 epochs of MNIST, batch 250
    >>> round(eps, 3), order
    (0.942, 17.0)
    """
    return epsilon_from_rdp(orders, rdp_sampled_gaussian(q, sigma, steps, orders), delta)


def noise_multiplier_for(target_epsilon, delta, q, steps, orders=DEFAULT_ORDERS):
    """The least noise multiplier sigma whose ``steps`` steps stay within (target_epsilon, delta), by bisection.

    epsilon falls as sigma grows (more noise is a post-processing of less: the data processing inequality), so the
    bisection, on log sigma within SIGMA_RANGE, keeps lo with epsilon(lo) > target and hi with epsilon(hi) <= target
    until hi / lo <= 1 + SIGMA_RTOL, and returns hi. The answer meets the target, and sigma / (1 + SIGMA_RTOL) does
    not. A target that sigma = 1000 cannot meet, or that sigma = 0.1 already meets, is refused.

    Parameters
    ----------
    target_epsilon : > 0    delta : in (0, 1)    q : sampling rate in [0, 1]    steps : whole number >= 1

    Returns
    -------
    sigma : float

    Example
    -------
    >>> sigma = noise_multiplier_for(target_epsilon=2.597, delta=1e-5, q=256 / 60000, steps=14062)
    >>> round(sigma, 3)
    1.1
    """
    _check_target(target_epsilon)
    _check_delta(delta)
    _check_q(q)
    _check_steps(steps)
    if q == 0 or steps == 0:
        raise ValueError(f"with q = {q} and steps = {steps} no example is used: any sigma meets any target")

    def eps_at(sigma):
        return epsilon(q, sigma, steps, delta, orders)[0]

    lo, hi = SIGMA_RANGE
    if eps_at(hi) > target_epsilon:
        raise ValueError(f"epsilon {target_epsilon} is out of reach: even sigma = {hi:g} gives {eps_at(hi):.4g}; "
                         "sample fewer examples per step (smaller q), take fewer steps, or allow a larger epsilon")
    if eps_at(lo) <= target_epsilon:
        raise ValueError(f"epsilon {target_epsilon} is met even by sigma = {lo:g} (epsilon {eps_at(lo):.4g}), the "
                         "least noise searched: such a target protects next to nothing; ask for a smaller epsilon")
    while hi / lo > 1 + SIGMA_RTOL:
        mid = math.sqrt(lo * hi)
        if eps_at(mid) <= target_epsilon:
            hi = mid
        else:
            lo = mid
    return hi


def steps_for(target_epsilon, delta, q, sigma, orders=DEFAULT_ORDERS):
    """The largest number of steps whose (epsilon, delta) stays within target_epsilon: 0 if even one step exceeds it.

    The RDP of T steps is T times that of one, and epsilon grows with the RDP, so epsilon grows with T: doubling T
    brackets the answer, bisection on whole numbers finds it. The trainer stops when this many steps are done. A
    budget of more than MAX_STEPS steps (10^12: far more noise than it needs) is refused.

    Parameters
    ----------
    target_epsilon : > 0    delta : in (0, 1)    q : sampling rate in (0, 1]    sigma : noise multiplier > 0

    Returns
    -------
    steps : int, with epsilon(q, sigma, steps, delta) <= target_epsilon < epsilon(q, sigma, steps + 1, delta)

    Example
    -------
    >>> steps_for(target_epsilon=2.597, delta=1e-5, q=256 / 60000, sigma=1.1)
    14066
    """
    _check_target(target_epsilon)
    _check_delta(delta)
    one_step = rdp_sampled_gaussian(q, sigma, 1, orders)
    if q == 0:
        raise ValueError("with q = 0 no example is ever used, so no number of steps spends the budget; use q > 0")

    def within(steps):
        return epsilon_from_rdp(orders, steps * one_step, delta)[0] <= target_epsilon

    if not within(1):
        return 0
    lo, hi = 1, 2  # within(lo) holds; doubling hi until it does not
    while within(hi):
        lo, hi = hi, 2 * hi
        if lo > MAX_STEPS:
            raise ValueError(f"the budget allows more than {MAX_STEPS:.0e} steps at q = {q}, sigma = {sigma}: "
                             "far more noise than it needs; use a smaller sigma")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if within(mid):
            lo = mid
        else:
            hi = mid
    return lo
