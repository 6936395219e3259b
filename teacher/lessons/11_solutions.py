"""Lesson 11 (evaluation): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: the importance-weighted bound L_K of x_eval[:10] by hand, with logsumexp over the K log-weights
my_eps = np.random.default_rng(3).standard_normal((10, 20, vae.latent_dim))
my_bound = logsumexp(log_importance_weights(vae, x_eval[:10], my_eps), axis=1) - np.log(20)


# %% exercise 2: the ELBO's gap of wrong_vae in closed form, KL(q(z | x) || p(z | x)) for each of the 50 points
mu_q, logvar_q = wrong_vae.encode(x_ppca)                        # (50, L) each
mu_p = (x_ppca - b) @ (W @ np.linalg.inv(M))                     # the exact posterior's mean
var_p = S2 / np.diag(M)                                          # and its variance, the same for every x
var_q = np.exp(logvar_q)
kl_to_posterior = 0.5 * np.sum(np.log(var_p) - logvar_q + (var_q + (mu_q - mu_p) ** 2) / var_p - 1, axis=1)
