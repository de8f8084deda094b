"""Models the importer must refuse, naming every offending call and its line."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class UnsupportedOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.norm = nn.GroupNorm(2, 8)

    def forward(self, x):
        x = self.fc(x)
        x = self.norm(x)
        x = F.hardswish(x)
        x = x * 2
        return torch.clamp(x, 0, 1)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        x = self.fc(x)
        if x.sum() > 0:
            x = torch.relu(x)
        if x.mean() < 1:
            x = torch.tanh(x)
        while x.norm() > 1:
            x = x / 2
        return x


class SharedWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(self.fc(x))


class BothLSTMOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)

    def forward(self, x):
        out, (h, _) = self.lstm(x)
        return out, h[-1]


class MixesBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x).view(-1)


class Add(nn.Module):
    """Named like LayerLab's Add helper, but subtracts."""

    def forward(self, a, b):
        return a - b


class LooksLikeAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.merge = Add()

    def forward(self, x):
        return self.merge(self.fc(x), x)
