"""Run Orgo computers as Kubernetes resources: the OrgoComputer operator and its simulator."""

GROUP = "orgo.ai"
VERSION = "v1alpha1"
PLURAL = "orgocomputers"
KIND = "OrgoComputer"

__version__ = "0.1.0"
