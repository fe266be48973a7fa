"""LEMS: a message-switch simulator for law-enforcement traffic.

This package is the switch itself, modelled on Oregon's LEDS: the lab configuration, the directory
of agencies, terminals and operators, the policy that decides who may do what (docs/RULES.md), the
journal, the terminals' mailboxes, the router, the simulated national systems (NCIC, Nlets, NICS in
``lems.endpoints``), the state services (``lems.state``), training (``lems.training``) and the
``lems`` command line. Codecs live in ``formats`` and links in ``hardware``, below this package;
emulated terminals in ``terminals`` reach it only over links. All data is fictitious.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lems-sim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
