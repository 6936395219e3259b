"""Test negative ELBO of the PyTorch-example recipe, in minivae and (if installed) in PyTorch, on the bundled split.

The recipe of the official PyTorch VAE example: 784-400-20 MLP VAE with ReLU, Bernoulli likelihood on grey values
(binary cross-entropy against pixel intensities in [0, 1]), Adam with lr 1e-3, batch 128. Both libraries train on the
same 9,000 bundled training digits with their own seeds, and are evaluated on the same 1,000 test digits with one
sample of z per example (the ELBO as the example's test loop computes it), in nats per example.

    python bench/quality.py                 # 20 epochs, 3 seeds each
    python bench/quality.py --epochs 50 --seeds 1

PyTorch is optional (pip install torch); without it only minivae is run.
"""
import argparse
import time

import numpy as np

from minivae import VAE
from minivae.datasets import load_mnist_test_10k
from minivae.training.trainer import TrainConfig, Trainer


def minivae_run(data, epochs, seed):
    model = VAE(784, latent_dim=20, hidden=(400,), seed=seed)
    trainer = Trainer(model, TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True))
    trainer.fit(data.x_train, data.x_test)
    return trainer.history["val_loss"][-1]


def torch_run(data, epochs, seed):
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)

    class TorchVAE(nn.Module):  # the official example's model, unchanged
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def forward(self, x):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    def loss_function(recon_x, x, mu, logvar):  # summed over the batch, as in the example
        bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    model = TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_train, x_test = torch.from_numpy(data.x_train), torch.from_numpy(data.x_test)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x_train)).split(128):
            xb = x_train[idx]
            opt.zero_grad()
            recon, mu, logvar = model(xb)
            loss = loss_function(recon, xb, mu, logvar)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        recon, mu, logvar = model(x_test)
        return float(loss_function(recon, x_test, mu, logvar)) / len(x_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    data = load_mnist_test_10k()
    runs = {"minivae": minivae_run}
    try:
        import torch  # noqa: F401

        runs["pytorch"] = torch_run
    except ImportError:
        print("PyTorch is not installed: only minivae is run")
    print(f"784-400-20 VAE, Bernoulli on grey values, Adam 1e-3, batch 128, {args.epochs} epochs, "
          f"9,000 train / 1,000 test bundled MNIST digits; test negative ELBO in nats per example")
    results = {name: [] for name in runs}
    for seed in range(args.seeds):
        for name, run in runs.items():  # alternate, so both see the same machine load
            t0 = time.perf_counter()
            results[name].append(run(data, args.epochs, seed))
            print(f"  {name:8s} seed {seed}: {results[name][-1]:7.2f}   ({time.perf_counter() - t0:.0f} s)")
    for name, values in results.items():
        print(f"{name:8s} mean {np.mean(values):7.2f}  std {np.std(values):5.2f}  over {len(values)} seeds")


if __name__ == "__main__":
    main()
