"""The CrossGuard policy pack's rules: plain functions over resources in the engine's shape.

resources.py reads engine-shaped resources (camelCase properties as the providers' schemas name them, secrets
sealed) into what the rules need; rules.py holds the rules; catalog.py names them with their description,
enforcement level, remediation and config schema; pack.py turns them into pulumi-policy Policies (the only
module here that imports pulumi-policy besides sealing.py); capture.py runs a stack program under Pulumi's mocks
and records the resources as the engine would hand them to an analyzer; analyzer.py starts the pack as the engine
does and calls it over gRPC.
"""
