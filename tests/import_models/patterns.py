"""Small models, each using patterns the importer must recognise (plain PyTorch, no LayerLab)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GRURegressor(nn.Module):
    """The final hidden state taken as h_n[-1] (a GRU returns (out, h_n))."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        _, h_n = self.gru(x)
        return self.head(h_n[-1])


class SequenceTagger(nn.Module):
    """Every step of an RNN, a transpose for a Conv1d, and a softmax over the classes."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(4, 8, batch_first=True, nonlinearity="relu")
        self.conv = nn.Conv1d(8, 6, kernel_size=3, padding=1)
        self.norm = nn.LayerNorm(6)

    def forward(self, x):
        out, _ = self.rnn(x)
        out = self.conv(out.transpose(1, 2))
        out = self.norm(out.permute(0, 2, 1))
        return torch.softmax(out, dim=-1)


class TinyTransformer(nn.Module):
    """Token embedding, PyTorch's own encoder layer and attention, mean over time."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.encoder = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True,
                                                  activation="gelu")
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.out = nn.Linear(16, 3)

    def forward(self, tokens):
        x = self.encoder(self.embed(tokens))
        attended, _ = self.attn(x, x, x)
        pooled = attended.mean(dim=1)
        return self.out(pooled)


class Decoder(nn.Module):
    """A generator: Linear, reshape to maps, transposed convolutions, upsampling, gating."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16 * 4 * 4)
        self.up1 = nn.ConvTranspose2d(16, 8, kernel_size=4, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.up2 = nn.Upsample(scale_factor=2)
        self.conv = nn.Conv2d(8, 1, 3, padding="same")
        self.gate = nn.Conv2d(8, 1, 1)

    def forward(self, z):
        x = self.fc(z).view(-1, 16, 4, 4)
        x = F.leaky_relu(self.bn(self.up1(x)), 0.2)
        x = self.up2(x)
        return torch.sigmoid(self.conv(x)) * torch.sigmoid(self.gate(x))


class TwoTowers(nn.Module):
    """Two inputs, a concatenation, two outputs; ELU, GELU, SiLU, average pooling."""

    def __init__(self):
        super().__init__()
        self.left = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ELU(), nn.AvgPool2d(2))
        self.right = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(2 * 4 * 3 * 3, 10)
        self.a = nn.Linear(10, 2)
        self.b = nn.Linear(10, 1)

    def forward(self, left, right):
        joined = torch.cat([self.left(left).flatten(1), self.right(right).flatten(1)], dim=1)
        hidden = F.silu(self.fc(joined))
        return self.a(hidden), self.b(hidden)


class GlobalPoolNet(nn.Module):
    """Adaptive pooling to 1 without a flatten after it, and a residual add via torch.add."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        y = F.relu(self.conv(x))
        y = torch.add(y, self.conv2(y))
        return self.pool(y)


class EncoderStack(nn.Module):
    """PyTorch's nn.TransformerEncoder (a stack with a final norm) and F.interpolate."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=24,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(16),
                                             enable_nested_tensor=False)
        self.conv = nn.Conv1d(16, 4, 1)

    def forward(self, x):
        x = self.encoder(x)
        x = self.conv(x.transpose(1, 2))
        return F.interpolate(x, scale_factor=2, mode="linear")


class OptionalMask(nn.Module):
    """An optional forward argument left at its default: traced as None."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, mask=None):
        y = self.fc(x)
        if mask is not None:
            y = y * mask
        return torch.relu(y)


class ThreeWaySum(nn.Module):
    """`a + b + c`: one Add node of three inputs, not two of two."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)
        self.c = nn.Linear(4, 3)

    def forward(self, x):
        return self.a(x) + self.b(x) + self.c(x)


class DenseFeatures(nn.Module):
    """torchvision's DenseNet loop: every layer reads the concatenation of all features so far,
    the first of them a concatenation of one."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv2d(2 + 2 * i, 2, 3, padding=1) for i in range(3)])

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(torch.relu(layer(torch.cat(features, 1))))
        return torch.cat(features, 1)
