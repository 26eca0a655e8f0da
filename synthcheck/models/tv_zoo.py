"""torchvision backbones adapted to 32x32 inputs."""

from __future__ import annotations

import torch.nn as nn

from ._registry import ModelCfg, register_model
from .small_cnn import CIFAKE_MEAN, CIFAKE_STD


@register_model(ModelCfg(input_size=32, mean=CIFAKE_MEAN, std=CIFAKE_STD, cam_layer="layer4",
                         description="ResNet-18 for 32x32: 3x3 stride-1 stem, no max-pool"))
def resnet18_32(pretrained: bool = False, num_classes: int = 2, **kw) -> nn.Module:
    """torchvision ResNet-18 whose stem keeps full resolution (the CIFAR recipe)."""
    from torchvision.models import resnet18

    if pretrained:
        raise ValueError("resnet18_32 has no offline pretrained weights; use pretrained=False")
    model = resnet18(weights=None, num_classes=num_classes, **kw)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model
