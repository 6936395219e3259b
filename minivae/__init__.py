"""minivae: a from-scratch, educational Variational Autoencoder library.

NumPy layers with hand-written backward passes, Numba kernels for the elementwise hot loops, every gradient checked
against finite differences. Read ``minivae/start_here.py`` first (the whole VAE in one file), then::

    from minivae import VAE, Adam
    vae = VAE(784, latent_dim=2)
    opt = Adam(lr=1e-3)
    terms = vae.loss_and_gradients(x_batch, rng)   # negative ELBO, fills vae.grads
    opt.step(vae.params, vae.grads)

The package map: every module, one idea each. The folders are layers, each importing only the ones above it in
this list (nn knows nothing of models; models nothing of training; the command line only dispatches).

    start_here.py               the whole VAE in one file of plain NumPy, equal to the library: read it first
    threads.py                  how many threads the matrix products use: the free cores, unless told

    nn/          the engine: arrays in, arrays and their gradients out
      layers.py                 Layer, Linear, the activations, Sequential, MLP: forward and a hand-written backward
      conv.py                   Conv2D, ConvTranspose2D, Flatten, Unflatten for images
      kernels.py                the Numba loops of the elementwise work, each beside its plain NumPy twin
      conv_kernels.py           im2col / col2im for the convolutions, each beside its NumPy twin
      sequence.py               Embedding, SequenceLinear, masks from lengths: token sequences (N, T) around an RNN
      recurrent.py              GRU and LSTM over (N, T, D) with a mask, backpropagation through time by hand
      recurrent_kernels.py      one GRU or LSTM step's gate arithmetic, forward and backward, beside its NumPy twin
      losses.py                 negative log-likelihoods and their gradients (tokens too); logsumexp; Gaussian densities
      kl.py                     the closed-form KL to N(0, I), its gradient, free bits
      reparam.py                z = mu + exp(logvar / 2) * eps and its backward pass
      optim.py                  SGD, Adagrad, RMSProp, Adam, AdamW (named as in torch.optim), gradient clipping
      gradcheck.py              central finite differences, the vector-Jacobian check, rel_error
    models/      encoder + decoder + likelihood, one contract
      base.py                   the contract: loss_and_gradients(x, rng, *, beta, free_bits, target, iw_samples,
                                condition), declared options; what every model shares
      autoencoder.py            the deterministic Autoencoder
      vae.py                    the VAE: one training step, line by line, with the module of each formula
      conv_vae.py               the VAE with convolutional networks
      cvae.py                   the conditional VAE (labels as condition=)
      iwae.py                   the importance-weighted bound: log-weights, the bound, its gradient
      sequence_vae.py           the sequence VAE (Bowman et al. 2016): GRU encoder, z starts the GRU decoder
      sequence_decoding.py      generating token sequences: greedy, temperature sampling, beam search, homotopies
      language_model.py         the GRU language model: the sequence VAE's decoder alone, the baseline
      likelihoods.py            what the decoder's outputs mean: Bernoulli, Gaussian, categorical, mixed columns
    datasets/    data in
      dataset.py                the Dataset every loader returns
      catalog.py                load_dataset, by name or by path; bundled_table, a bundled real table
      mnist.py                  the bundled MNIST test set; MNIST and Fashion-MNIST downloads
      idx.py                    the IDX file format
      download.py               verified downloads into a cache folder
      arrays.py                 your own .npy / .npz / .csv arrays, and the labels in an .npz
      csvfiles.py               CSV files read as meant: gzip, the delimiter, a header row; tables written atomically
      missing.py                missing values: reported, and dropped or filled in only when asked
      binarize.py               static and dynamic binarization
      labels.py                 number of classes, a Dataset without some classes
      tables.py                 minivae 0.2's CSV tables (TabularEncoder), kept to read its runs (now: tables/)
      text.py                   text as token ids: character or word vocabularies, padding and masks, and back
      corpus.py                 text datasets: the bundled census first names, your own text file; a fixed split
      molecules.py              molecules as SMILES or SELFIES tokens: RDKit's NCI set or your .smi / .csv, checked
      files/                    the bundled MNIST test set and census first names, with their licences
    privacy/     differentially private training (DP-SGD) and what it spends
      per_example.py            each example's gradient norm and the clipped sum of DP-SGD, for the MLP models
      accountant.py             the Renyi DP of the sampled Gaussian mechanism as (epsilon, delta); sigma for a target
      dp_sgd.py                 one DP-SGD step: Poisson-sampled batch, clipped sum, noise once, the optimizer
      budget.py                 a private run's budget: sampling rate, steps, sigma; what is refused, what is covered
      membership.py             the loss-threshold membership attack: does the model tell who it was trained on?
    training/    the loop and what it saves
      config.py                 TrainConfig, every training setting; what a resumed run may change of them
      trainer.py                Trainer: epochs, validation, warm-up, exact resume, Ctrl-C between two steps
      kl_schedule.py            KL annealing: the weight of the KL term at each step, linear or logistic
      lr_schedule.py            the learning rate of each epoch: constant, exponential decay or Burda et al.'s steps
      guard.py                  the divergence guard: NaN, infinity, or a loss far above its start
      interrupt.py              Ctrl-C between two steps, and where an unfinished epoch stood
      kernel_loading.py         the epoch's Numba kernels loaded before the first epoch's clock starts
      checkpoint.py             one .npz per run, no pickle, every field checked on load
      run_data.py               the data of a run (source, checksum, options, split), rebuilt from its record
      run_folder.py             one run per folder: the lock, no run written over another
    apps/        what a trained model is for
      evaluation.py             the IW estimate of log p(x), bits per dimension or per token, I(x; z), a report
      latent.py                 interpolation, grids, traversals, attribute vectors, active units
      latent_design.py          a property predictor on z, gradient ascent in z near the prior, the decoded path
      anomaly.py                anomaly scores, the ROC curve and its AUC
      imputation.py             missing values: iterative and Metropolis-within-Gibbs
      synthetic.py              new examples from the prior, to .npy / .npz / .csv
      molecules.py              generated molecules judged: validity, uniqueness, novelty, diversity, W1
    tables/      tables past memory: Parquet, Delta, Iceberg in batches; encoded, scored, synthesised, judged
      schema.py                 the column-batch convention: dicts of 1-D arrays, a JSON schema, both ways to Arrow
      arrow_io.py               one entry point: read_schema, count_rows, fragments, iter_batches; atomic Parquet
      lakehouse.py              Delta Lake and Iceberg tables: read at a version or snapshot, written as a new one
      summary.py                one pass over a column: counts, range, whole numbers, distinct values, a sample
      columns.py                TableEncoder: each column as numbers for the VAE (log, logit, one-hot, nulls) and back
      scoring.py                a table scored batch by batch: negative ELBO, reconstruction, IW bound, beside its keys
      synthesis.py              synthetic rows in batches, decoded inside each column's support
      streaming.py              a table larger than memory as training data: encoded once into files on disk
      dataset.py                a table from any source as a Dataset: schema, keys, encoder, split; drift refused
      inputs.py                 the column-batch convention checked: same columns, a kind each; kinds from the dtypes
      quality.py                SDMetrics' quality score: column shapes (KS, TVD), column-pair trends, their mean
      linear.py                 ridge, logistic (Newton) and softmax regression by hand; rows as feature vectors
      detection.py              can a logistic regression tell real rows from synthetic? Cross-validated ROC AUC
      efficacy.py               train on synthetic, test on real (TSTR), beside train on real
      dcr.py                    distance to the closest training row, beside held-out rows'; its Numba kernel
      scores.py                 every score in one JSON-able dict, and its markdown page
      report.py                 write_report: report.md, scores.json and the figures (the one module here that draws)
    distributed/ beyond one machine, on MPI: data-parallel training, each rank scoring its part of a table
      mpi.py                    the communicator: rank, size, one Allreduce over one flat buffer; shards of a batch
      data_parallel.py          the sharded gradient step: every gradient in one buffer, one Allreduce per step
      parts.py                  a table as a folder of parts, one Parquet file per unit, each rank writing its own
    plots/       figures: each function returns a matplotlib Figure (import it yourself: it loads matplotlib)
      images.py                 image grids and save_figure
      latent.py                 the manifold, the encoder means, interpolations, traversals
      generation.py             reconstructions, samples, imputations
      curves.py                 training curves, the ROC curve
      molecules.py              property histograms of molecules, grids of their drawings (RDKit)
      tables.py                 a synthetic table against the real one: marginals, correlation heat maps
      run_figures.py            the figures the main job writes
    teaching/    exercises, assignments and their grader
      exercises.py              the student template: the exercises, each solution a TODO (solutions: teacher/)
      assignments.py            make-assignment: the student version
      notebook_assignment.py    make-assignment --format notebook: explanations, TODO cells, check cells
      local_check.py            check("name"): a notebook's check cell, the grader's checks on its function
      static_checks.py          solution_imports: a submission's imports of minivae's implementations
      reference_blocks.py       the grader's building blocks: the library's functions, the exercises' signatures
      grader.py                 grade: runs every check, each exercise in its own process, on fresh inputs
      report.py                 the grader's report: results, points, the text a student reads
      sandbox.py                the child process of one exercise: limits, captured output, calls as messages
      sandbox_child.py          what runs in that child (NumPy only), and the message format both sides share
      submission.py             a submission read: a .py file, or a notebook's code cells
      seeds.py                  a fresh seed per grading run
      batch.py                  grading a folder: grades.csv, grades.json, feedback/<student>.md
      compare.py                how one output is judged, and the mistake that explains it
      checks.py                 the exercise table
      checks_layers.py          the checks of the building blocks
      checks_vae.py             the check of the whole VAE
      gradcheck_table.py        the gradcheck command's table
    cli/         python -m minivae COMMAND: parses, calls the library, prints
      main.py                   the top-level parser, --version, --debug, one-line errors
      train.py                  train, the main job
      apps.py                   evaluate, anomaly, impute, synthesize
      figures.py                sample, reconstruct, manifold, interpolate, traverse
      teaching.py               gradcheck, make-assignment, grade
      text.py                   text runs: train --model seq-vae / seq-lm, and the markdown their commands write
      molecules.py              molecule runs: --data molecules, samples as .smi, RDKit's metrics, optimize
      privacy.py                private runs: train --dp-epsilon or --noise-multiplier; the epsilon of what they write
      tables.py                 table runs: train --table, anomaly --table, synthesize rows in the schema
      table_report.py           report: a table run's synthetic-data quality report
      table_output.py           where a table command's rows go: a file, a lakehouse table, a folder of parts
      distributed.py            --distributed: a command on every rank of an MPI launch
      common.py                 what the commands share: help format, data and checkpoint options
      options.py                the type= of the numeric options: ranges checked when parsed, a memory estimate
    validation.py               input checks shared by every layer (shapes, dtypes, finite values, ranges)
    fileio.py                   atomic writes: every file minivae writes goes through it
    extras.py                   the optional extras (pip install "minivae[molecules]") and the error when one is missing
    version.py                  the version number
"""
from minivae.version import __version__  # noqa: E402,F401


def _check_versions():
    """Fail early, with a message a student can act on, if numpy and numba do not fit together."""
    import numpy

    try:
        import numba
    except ImportError as err:  # numba refuses to import with a numpy it does not support
        raise ImportError(
            f"minivae needs numba, which failed to import with numpy {numpy.__version__}: {err}\n"
            "Install the known-good versions with:  pip install -r requirements.txt"
        ) from err
    np_major = int(numpy.__version__.split(".")[0])
    nb_minor = tuple(int(p) for p in numba.__version__.split(".")[:2])
    if np_major < 2 or nb_minor < (0, 60):
        raise ImportError(
            f"minivae needs numpy >= 2 and numba >= 0.60, found numpy {numpy.__version__} and numba "
            f"{numba.__version__}. Install the known-good versions with:  pip install -r requirements.txt"
        )


_check_versions()

from minivae.nn.layers import MLP, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Softplus, Tanh  # noqa: E402
from minivae.nn.conv import Conv2D, ConvTranspose2D, Flatten, Unflatten  # noqa: E402
from minivae.nn.sequence import Embedding, SequenceLinear, mask_from_lengths  # noqa: E402
from minivae.nn.recurrent import GRU, LSTM  # noqa: E402
from minivae.nn.losses import bernoulli_nll, categorical_nll, gaussian_nll, gaussian_nll_learned_variance  # noqa: E402
from minivae.nn.losses import token_nll  # noqa: E402
from minivae.nn.kl import kl_per_dimension, kl_standard_normal  # noqa: E402
from minivae.models.likelihoods import (Bernoulli, Categorical, Gaussian, GaussianLearnedVariance, Mixed,  # noqa: E402
                                 make_likelihood)
from minivae.nn.reparam import reparameterize, reparameterize_backward  # noqa: E402
from minivae.models import VAE, Autoencoder, ELBOTerms, LossTerms, build_model  # noqa: E402
from minivae.models.conv_vae import ConvVAE  # noqa: E402
from minivae.models.cvae import ConditionalVAE  # noqa: E402
from minivae.models.sequence_vae import SequenceVAE  # noqa: E402
from minivae.models.language_model import SequenceLM  # noqa: E402
from minivae.models.sequence_decoding import beam_search, homotopy  # noqa: E402
from minivae.nn.optim import SGD, Adagrad, Adam, AdamW, RMSProp, clip_grad_norm, make_optimizer  # noqa: E402
from minivae.nn.gradcheck import check_layer, check_model, numerical_gradient, rel_error  # noqa: E402
from minivae.datasets.dataset import Dataset  # noqa: E402
from minivae.datasets.catalog import load_dataset  # noqa: E402
from minivae.datasets.mnist import load_mnist_test_10k  # noqa: E402
from minivae.training.trainer import TrainConfig, Trainer, TrainingDiverged  # noqa: E402
from minivae.training.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from minivae.apps.evaluation import bits_per_dim, importance_weighted_bound, mutual_information  # noqa: E402
from minivae.apps.anomaly import anomaly_scores, roc_auc, roc_curve  # noqa: E402
from minivae.apps.imputation import impute, mean_imputation  # noqa: E402
from minivae.apps.synthetic import generate, save_synthetic  # noqa: E402
from minivae.datasets.tables import TabularEncoder, read_csv_table, write_csv_table  # noqa: E402
from minivae.datasets.text import Vocabulary  # noqa: E402
from minivae.privacy.per_example import clipped_gradient_sum, per_example_gradient_norms  # noqa: E402
from minivae.privacy.accountant import noise_multiplier_for  # noqa: E402
from minivae.privacy.budget import PrivateRun  # noqa: E402
from minivae.privacy.membership import membership_auc  # noqa: E402

# The figures live in minivae.plots (import it yourself: it loads matplotlib, which the rest does not need).
__all__ = [
    # layers
    "Linear", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softplus", "Sequential", "MLP",
    "Conv2D", "ConvTranspose2D", "Flatten", "Unflatten",
    "Embedding", "GRU", "LSTM", "SequenceLinear", "mask_from_lengths",
    # losses, likelihoods, the reparameterization
    "bernoulli_nll", "categorical_nll", "gaussian_nll", "gaussian_nll_learned_variance", "token_nll",
    "kl_standard_normal",
    "kl_per_dimension",
    "Bernoulli", "Categorical", "Gaussian", "GaussianLearnedVariance", "Mixed", "make_likelihood",
    "reparameterize", "reparameterize_backward",
    # models
    "VAE", "Autoencoder", "ConvVAE", "ConditionalVAE", "SequenceVAE", "SequenceLM", "ELBOTerms", "LossTerms",
    "build_model", "beam_search", "homotopy",
    # optimizers and gradient checks
    "SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "clip_grad_norm", "make_optimizer",
    "check_layer", "check_model", "numerical_gradient", "rel_error",
    # data, training, checkpoints
    "Dataset", "load_dataset", "load_mnist_test_10k", "TrainConfig", "Trainer", "TrainingDiverged",
    "load_checkpoint", "save_checkpoint",
    # evaluation and applications
    "bits_per_dim", "importance_weighted_bound", "mutual_information", "anomaly_scores", "roc_auc", "roc_curve",
    "impute", "mean_imputation", "generate", "save_synthetic", "TabularEncoder", "read_csv_table", "write_csv_table",
    "Vocabulary",
    # privacy (DP-SGD)
    "clipped_gradient_sum", "per_example_gradient_norms", "noise_multiplier_for", "PrivateRun",
    "membership_auc",
]
