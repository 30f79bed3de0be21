"""The ground floor: settings, home paths, named errors, input rules and personal-data masking.

Nothing here imports any other package of the project; every other package may import it.
"""
