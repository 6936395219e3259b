"""The same VAE in PyTorch, in two forms, for ``bench/throughput.py``. Imported only when PyTorch is installed.

"example": the official PyTorch VAE example (pytorch/examples, vae/main.py) with its sizes as parameters: fc1,
    fc21 (mu), fc22 (logvar), fc3, fc4; ReLU; sigmoid output with binary cross-entropy summed over the batch; the
    closed-form KL; Adam with its defaults.
"tuned": the same network, trained the way one would for speed on a CPU: binary cross-entropy with logits (no
    separate sigmoid, one fused op) and Adam(fused=True), which updates all parameters in one kernel.

Both expose the four phases of a training step (forward, loss, backward, optimizer) for the per-phase breakdown.
"""
import torch
from torch import nn
from torch.nn import functional as F


class ExampleVAE(nn.Module):
    """The example's model (784-400-20 there)."""

    def __init__(self, input_dim, hidden, latent_dim):
        super().__init__()
        self.fc1 = nn.Linear(input_dim, hidden)
        self.fc21 = nn.Linear(hidden, latent_dim)
        self.fc22 = nn.Linear(hidden, latent_dim)
        self.fc3 = nn.Linear(latent_dim, hidden)
        self.fc4 = nn.Linear(hidden, input_dim)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def decode_logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar)), mu, logvar


def kl_sum(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class TorchTrainer:
    """One training step in phases. form: "example" or "tuned"."""

    def __init__(self, form, input_dim, hidden, latent_dim, seed=0):
        torch.manual_seed(seed)
        self.form = form
        self.model = ExampleVAE(input_dim, hidden, latent_dim)
        if form == "example":
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        elif form == "tuned":
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=True)
        else:
            raise ValueError(f"form must be 'example' or 'tuned', got {form!r}")
        self.model.train()

    def forward(self, x):
        logits, mu, logvar = self.model(x)
        if self.form == "example":
            return torch.sigmoid(logits), mu, logvar
        return logits, mu, logvar

    def loss(self, out, x):
        recon, mu, logvar = out
        if self.form == "example":
            rec = F.binary_cross_entropy(recon, x, reduction="sum")
        else:
            rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
        return rec + kl_sum(mu, logvar)

    def backward(self, loss):
        loss.backward()

    def optimizer(self):
        self.opt.step()
        self.opt.zero_grad()

    def step(self, x):
        loss = self.loss(self.forward(x), x)
        self.backward(loss)
        self.optimizer()
        return loss
