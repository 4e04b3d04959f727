"""A NumPy MLP trainer written the way a user would: ReLU hidden layers, softmax
cross-entropy, Adam, mini-batches. The comparison baseline for benchmarks/."""
import numpy as np


class NumpyMLP:
    def __init__(self, sizes, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, seed=0):
        rng = np.random.default_rng(seed)
        self.W = [rng.uniform(-1, 1, (a, b)).astype(np.float32) * np.sqrt(6 / a).astype(np.float32)
                  for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.params = self.W + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, beta1, beta2, eps, 0
        self.rng = rng

    def step(self, x, y):
        acts = [x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            acts.append(np.maximum(acts[-1] @ W + b, 0))
        z = acts[-1] @ self.W[-1] + self.b[-1]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        n = len(x)
        loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
        g = p
        g[np.arange(n), y] -= 1
        g /= n
        gW, gb = [None] * len(self.W), [None] * len(self.b)
        for i in range(len(self.W) - 1, -1, -1):
            gW[i] = acts[i].T @ g
            gb[i] = g.sum(axis=0)
            if i:
                g = (g @ self.W[i].T) * (acts[i] > 0)
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p_, g_, m, v in zip(self.params, gW + gb, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g_
            v *= self.b2
            v += (1 - self.b2) * g_ * g_
            p_ -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
        return loss

    def epoch(self, X, y, batch_size):
        order = self.rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            self.step(X[idx], y[idx])
