"""Billing: prices as data (`prices`), pure arithmetic (`pricing`), the append-only ledger
(`ledger`) and the glue the pipeline calls (`meter`). Import the submodules directly; this
package imports nothing so that settings can use the price schema without a cycle."""

__all__: list[str] = []
