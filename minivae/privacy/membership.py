"""The loss-threshold membership-inference attack (Yeom et al. 2018): can the model tell who it was trained on?

A model that memorises its training examples gives them a lower loss than examples it never saw. The attacker
knows the model and an example, and guesses "member" when the example's loss is below a threshold:

    score(x)  = -loss(x)          here the negative ELBO of x, in nats (``minivae.apps.anomaly.anomaly_scores``)
    AUC       = P(score(member) > score(non-member))       over every threshold at once (the ROC curve's area)

An AUC of 0.5 means the losses of members and non-members are exchangeable: this attack learns nothing about who
was in the training set. Above 0.5 the model leaks membership; a model trained with DP-SGD at (epsilon, delta)
bounds every attack's advantage (Yeom et al.: its membership advantage, TPR - FPR, is at most e^epsilon - 1), and
this one's AUC should fall toward 0.5 as epsilon falls. The attack is the weakest sensible one: an AUC near 0.5 says
this attack fails, not that every attack does. Only the private training's (epsilon, delta) says that.

What (epsilon, delta) allows any attack at all (Kairouz, Oh & Viswanath 2015): every test of "member or not" has
true and false positive rates with

    TPR <= e^epsilon FPR + delta        and        1 - FPR <= e^epsilon (1 - TPR) + delta

so its ROC curve lies below TPR = min(1, e^eps FPR + delta, 1 - e^-eps (1 - delta - FPR)), and its AUC below the
area under that curve (``auc_bound``): e^eps / (1 + e^eps) for delta = 0 (0.73 at epsilon 1, 0.95 at 3, 1.0 at 10).

The members and the non-members must come from the same distribution (a training set and a held-out set split at
random), in equal numbers or not: the AUC does not depend on the ratio.
"""
import numpy as np

from minivae.apps.anomaly import anomaly_scores, roc_auc


def membership_scores(model, x, rng, method="elbo"):
    """The attacker's score of each example (N,): its negative loss (higher: more likely a member)."""
    return -anomaly_scores(model, x, method=method, rng=rng)


def membership_auc(model, members, non_members, rng, method="elbo"):
    """The attack's ROC AUC: the probability that a random member of the training set scores above a random
    non-member. members (M, D) are training examples, non_members (K, D) held-out ones, M, K >= 1."""
    members, non_members = np.asarray(members), np.asarray(non_members)
    if len(members) == 0 or len(non_members) == 0:
        raise ValueError(f"the attack compares members with non-members: got {len(members)} members and "
                         f"{len(non_members)} non-members; give at least one of each")
    scores = np.concatenate([membership_scores(model, members, rng, method),
                             membership_scores(model, non_members, rng, method)])
    labels = np.concatenate([np.ones(len(members)), np.zeros(len(non_members))])
    return roc_auc(scores, labels)


def auc_bound(epsilon, delta=0.0):
    """The largest ROC AUC any membership attack can have against an (epsilon, delta)-DP training (module docstring).

    The area under tpr(F) = min(1, e^eps F + delta, 1 - e^-eps (1 - delta - F)) for F in [0, 1]. The curve is
    piecewise linear with its kinks where two of the three meet, at F = (1 - delta) / (1 + e^eps),
    (1 - delta) e^-eps and 1 - delta: the trapezoid rule on these points is exact. epsilon >= 0, delta in [0, 1).

    >>> round(auc_bound(1.0), 6), round(np.e / (1 + np.e), 6)                      # delta = 0: e^eps / (1 + e^eps)
    (0.731059, 0.731059)
    """
    if not (np.isfinite(epsilon) and epsilon >= 0 and 0 <= delta < 1):
        raise ValueError(f"epsilon must be >= 0 and delta in [0, 1), got {epsilon!r} and {delta!r}")
    kinks = [(1 - delta) / (1 + np.exp(epsilon)), (1 - delta) * np.exp(-epsilon), 1 - delta]
    fpr = np.unique(np.clip([0.0, *kinks, 1.0], 0.0, 1.0))
    tpr = np.minimum.reduce([np.ones_like(fpr), np.exp(epsilon) * fpr + delta,
                             1 - np.exp(-epsilon) * (1 - delta - fpr)])
    return float(np.sum((tpr[1:] + tpr[:-1]) / 2 * np.diff(fpr)))
