from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    lines = (ROOT / 'requirements' / name).read_text().splitlines()
    return [line.split('#')[0].strip() for line in lines if line.split('#')[0].strip()]


version: dict = {}
exec((ROOT / 'mls_plugin' / 'version.py').read_text(), version)

setup(
    name='mls_plugin',
    version=version['__version__'],
    description='MLS (Multi-Label Self-supervised learning, ICCV 2023) for OpenMMLab',
    long_description=(ROOT / 'README.md').read_text() if (ROOT / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['mls_plugin', 'mls_plugin.*']),
    python_requires='>=3.9',
    install_requires=read_requirements('torch.txt') + read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
)
