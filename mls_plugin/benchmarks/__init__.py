"""Benchmark protocols: how a pretrained backbone is scored downstream.

The VOC07 SVM protocol of the self-supervised lineage (:mod:`.svm_voc07`), a linear probe
(:mod:`.linear_probe`) and CamVid for mmseg (:mod:`.camvid`). ``import mls_plugin`` does not
load this package: the tools import what they run, and the CamVid config lists
``'mls_plugin.benchmarks.camvid'`` in ``custom_imports`` (importing it needs mmseg and mmcv's
compiled ops, which pretraining does not). It may import the method
(``mls_plugin.evaluation``, ``mls_plugin.models``), never the lab (``mls_plugin.analysis``).
"""
