"""Code that runs inside the Rasa engine process (its own virtualenv): the app's input channel.

It may import only the ground floor (``core``) besides Rasa itself; the NLU components the engine loads live
in ``nlu/``.
"""
