"""Lesson 10 (applications): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: hold out the 0s: the AUC of the -ELBO of a VAE trained without them, and of the ink baseline
vae_no0 = train(data.x_train[data.y_train != 0][:N_TRAIN])
is_zero = y_test == 0
auc_zero = roc_auc(anomaly_scores(vae_no0, x_test, method="elbo", rng=np.random.default_rng(1)), is_zero)
auc_zero_ink = roc_auc(x_test.sum(axis=1), is_zero)


# %% exercise 3: the nearest-class-mean accuracy of the samples of a conditional VAE with 8 latent dimensions
cvae8 = train(x_all, y_all, model=ConditionalVAE(784, latent_dim=8, hidden=HIDDEN, n_classes=10, seed=0))
samples8 = cvae8.sample(len(wanted), np.random.default_rng(0), condition=wanted)
accuracy_latent8 = float(np.mean(nearest_class_mean(samples8) == wanted))
