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


class ChannelDropout(nn.Module):
    """Keras-style: whole feature maps dropped."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.drop = nn.Dropout2d(0.25)

    def forward(self, x):
        return self.drop(self.conv(x))


class SqueezeExcite(nn.Module):
    """The most copied squeeze-and-excitation block: the scale expanded by hand."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        s = torch.sigmoid(self.fc(x.mean((2, 3)))).view(x.size(0), 4, 1, 1)
        return x * s.expand_as(x)


class StepsThroughTime(nn.Module):
    """A hand-written recurrence: a cell stepped over the time steps from a zero state."""

    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(4, 8)

    def forward(self, x):
        h = torch.zeros(x.size(0), 8)
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return h


class TutorialPositions(nn.Module):
    """The PyTorch transformer tutorial's positional encoding: a table cut to the input."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.register_buffer("pe", torch.zeros(1, 100, 8))

    def forward(self, tokens):
        x = self.embed(tokens)
        return x + self.pe[:, :x.size(1)]
