# Ablation: k = 1 pseudo-positives per query (Table 8; k = 20 is the default).
_base_ = '../mls_resnet50_8xb32-coslr-400e_coco.py'

model = dict(head=dict(topk=1))
