"""The foundation every other package stands on: it imports nothing of ours and no Flask.

So far it holds the base class of the errors the domain raises on purpose (errors.py); the
database handle, settings and money move here as the layout of issue #16 is carried out.
"""
