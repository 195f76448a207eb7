"""Detectors of scans (idiom: InstrumentScripts general/scans/detector.py).

`specific_spectra` is a factory: it returns the detector function a scan calls at each
point. Scientists type it (`detector=specific_spectra([[4]])`), and the instrument packages
re-export it by name.
"""


def specific_spectra(spectra_list, preconfig=lambda: None):
    """Create a detector that counts over a given set of spectrum numbers.

    Args:
        spectra_list: lists of spectrum numbers; each inner list is summed into one point.
        preconfig: called before counting (sets up the DAE).
    """

    def inner(acc, **kwargs):
        preconfig()
        return acc, [len(spectra) for spectra in spectra_list]

    return inner
