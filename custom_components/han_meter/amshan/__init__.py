"""Reads and decodes smart electricity meter HAN port data (DLMS/COSEM HDLC, P1, M-Bus).

Free of Home Assistant: the integration around it, tests and the command line
(``python -m amshan``) all use it the same way.
"""
