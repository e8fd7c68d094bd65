"""What people touch: the ``pkmodel`` command (:mod:`.cli`), the pictures (:mod:`.plot`) and the
interactive explorer (:mod:`.explore`)."""
