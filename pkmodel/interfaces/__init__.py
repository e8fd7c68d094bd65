"""What people touch: the ``pkmodel`` command (:mod:`.cli`) and the pictures (:mod:`.plot`)."""
