"""What an IHD or PPMID shows of the occupant: the record the emulated devices, the board
control protocol and the bench share (SECMP0056).

Plain data, no I/O, here at the floor because every layer that speaks of a display needs it:
``devices/occupant_display.py`` keeps it on an emulated IHD or PPMID, the board control
protocol (``hardware/protocol.py``) carries it in a board's ``state``, and the bench hands it to
tests as ``device.display``. A change of tenancy clears the consumer's half (*Clear IHD Data -
Consumer*), a change of supplier both halves (and *Clear IHD Data - Supplier*).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConsumerData:
    """What the display shows of the occupant: cleared by *Clear IHD Data - Consumer*.

    ``daily_consumption_wh``: the consumption history, one figure a day, oldest first;
    ``messages``: the supplier's messages to the occupant; ``top_ups_pence``: the credit the
    occupant added (a PPMID's prepayment history).
    """

    daily_consumption_wh: tuple[int, ...] = ()
    messages: tuple[str, ...] = ()
    top_ups_pence: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.daily_consumption_wh or self.messages or self.top_ups_pence)


@dataclass(frozen=True)
class SupplierData:
    """What the display shows of the supplier: cleared by *Clear IHD Data - Supplier*."""

    supplier_name: str = ""
    unit_price_pence_per_kwh: float | None = None

    @property
    def empty(self) -> bool:
        return not self.supplier_name and self.unit_price_pence_per_kwh is None


@dataclass(frozen=True)
class DisplayedData:
    """Everything an IHD or PPMID shows now."""

    consumer: ConsumerData = field(default_factory=ConsumerData)
    supplier: SupplierData = field(default_factory=SupplierData)

    def cleared(self, *, consumer: bool, supplier: bool) -> DisplayedData:
        """What is left once the consumer's and/or the supplier's data are cleared."""
        return DisplayedData(ConsumerData() if consumer else self.consumer,
                             SupplierData() if supplier else self.supplier)


PREVIOUS_OCCUPANT = DisplayedData(
    ConsumerData(daily_consumption_wh=(8200, 7900, 9100, 8800, 10400, 12100, 11700),
                 messages=("Your bill for March is ready",), top_ups_pence=(2000, 1000)),
    SupplierData(supplier_name="GITTESTSUPPLIER", unit_price_pence_per_kwh=24.5))
"""A previous tenant's week on the display: what an emulated IHD or PPMID starts with."""
