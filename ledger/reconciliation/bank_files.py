"""Bank statement CSV import, pure: bytes in, parsed lines and per-line errors out.

Taiwanese bank exports differ by bank, so the columns are described by a ``ColumnMapping``
(two ready ones below). Files come in UTF-8 (with or without BOM) or Big5/cp950, with ROC
dates (民國 115/11/26) or ISO dates, thousands separators and ``NT$`` signs, and either a
deposit and a withdrawal column or one signed amount column.

Nothing here touches the database. ``parse_statement`` never raises for a bad line: it
collects every problem with its line number, in English and Traditional Chinese, so the
fund manager fixes the file once instead of once per error. ``ParsedStatement.importable``
is the gate: it refuses to hand out lines while errors exist unless the caller explicitly
asks to skip the bad ones.

Every line gets a fingerprint (SHA-256) that is the same whenever the same bank line is
read again, from the same file, an overlapping file, or the same export in another
encoding, so a unique index on it makes imports idempotent.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from foundation.errors import FieldMessage, InvalidAmount, LedgerError, ValidationError
from ledger.fund import virtual_accounts
from ledger.fund.virtual_accounts import VirtualAccountScheme
from ledger.money import check_currency, exponent, parse_amount

ColumnRef = str | tuple[str, ...]


class StatementFormatError(ValidationError):
    """The file as a whole cannot be read (encoding, missing header, bad mapping)."""

    code = "bank_statement_unreadable"


class StatementHasErrors(ValidationError):
    """Lines are malformed and the caller did not choose to skip them."""

    code = "bank_statement_invalid"


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a bank CSV hold what. Columns are named by their header text.

    Each column may be given as one header or a tuple of alternatives (banks rename columns
    between export versions); the first one present in the header row wins.

    * ``date`` (required)
    * either ``amount`` (one signed column) or ``deposit`` and/or ``withdrawal``
      (unsigned; withdrawals become negative)
    * ``balance``: running balance after the line (optional)
    * ``memo``: one or more text columns joined with a space (摘要, 備註 ...); the virtual
      account number is looked for here, in ``counterparty`` and in ``reference``
    * ``counterparty``: payer/payee name or account (optional, may be several columns)
    * ``reference``: a dedicated 虛擬帳號 column if the bank has one (optional)
    * ``currency``: a currency column (optional); otherwise ``default_currency``

    The header row is found automatically within the first ``max_header_search`` rows (bank
    exports start with a preamble: account number, period, print date). Rows whose first
    non-empty cell starts with one of ``footer_markers`` (合計, 總計 ...) are skipped.
    """

    name: str
    date: ColumnRef
    amount: ColumnRef | None = None
    deposit: ColumnRef | None = None
    withdrawal: ColumnRef | None = None
    balance: ColumnRef | None = None
    memo: tuple[ColumnRef, ...] = ()
    counterparty: tuple[ColumnRef, ...] = ()
    reference: ColumnRef | None = None
    currency: ColumnRef | None = None
    default_currency: str = "TWD"
    delimiter: str = ","
    footer_markers: tuple[str, ...] = ("合計", "總計", "小計", "Total", "TOTAL")
    max_header_search: int = 30
    #: TWD is handled in whole dollars (DOMAIN.md); a line with cents is a misread file.
    whole_twd: bool = True
    #: Dates before this are refused: a western YYMMDD date (261126) read as ROC would
    #: otherwise land in 1937 without anyone noticing.
    earliest_date: dt.date = dt.date(2000, 1, 1)

    def __post_init__(self):
        has_signed = self.amount is not None
        has_split = self.deposit is not None or self.withdrawal is not None
        if has_signed == has_split:
            raise StatementFormatError(
                f"Mapping {self.name!r} needs either an amount column or deposit/withdrawal "
                "columns, not both / 對應設定須擇一：單一金額欄或存入/支出欄。",
                reason="amount_columns",
            )
        check_currency(self.default_currency)


#: A plain export: ISO or ROC dates, one signed amount column.
GENERIC = ColumnMapping(
    name="generic",
    date=("date", "Date", "日期"),
    amount=("amount", "Amount", "金額"),
    balance=("balance", "Balance", "餘額"),
    memo=(("description", "Description", "memo", "Memo", "摘要"), ("reference", "備註")),
    counterparty=(("counterparty", "Counterparty", "對方戶名"),),
    currency=("currency", "Currency", "幣別"),
)

#: The usual Taiwanese bank export (Big5, ROC dates, 存入/支出 columns, 餘額, 摘要, 備註).
TW_BANK = ColumnMapping(
    name="tw_bank",
    date=("交易日期", "帳務日期", "日期"),
    deposit=("存入金額", "存入", "收入金額", "存款金額"),
    withdrawal=("支出金額", "支出", "提款金額", "支取金額"),
    balance=("餘額", "帳戶餘額", "結餘"),
    memo=(("摘要", "交易摘要"), ("備註", "附註", "附言")),
    counterparty=(("對方帳號", "轉出帳號", "對方銀行帳號"), ("對方戶名", "戶名")),
    reference=("虛擬帳號",),
    currency=("幣別",),
)

MAPPINGS: dict[str, ColumnMapping] = {m.name: m for m in (GENERIC, TW_BANK)}


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One transaction on the bank statement. ``amount`` is signed minor units (in > 0)."""

    line: int
    date: dt.date
    amount: int
    currency: str
    memo: str
    counterparty: str
    balance: int | None
    #: Every valid fund reference seen in memo/counterparty/reference, in order
    virtual_accounts: tuple[str, ...]
    fingerprint: str

    @property
    def virtual_account(self) -> str | None:
        """The one reference on the line; None if none or several (a person must look)."""
        return self.virtual_accounts[0] if len(self.virtual_accounts) == 1 else None


@dataclass(frozen=True, slots=True)
class LineError:
    """A malformed line: where, which column, and why in both languages."""

    line: int
    field: str
    message: str
    message_zh: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    def bilingual(self) -> str:
        return f"第 {self.line} 行：{self.message_zh} / line {self.line}: {self.message}"


@dataclass
class ParsedStatement:
    """The result of reading one statement file. Nothing has been imported yet."""

    mapping: str
    account: str
    encoding: str
    header_line: int
    lines: list[ParsedLine] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    #: True when the bank lists the newest line first
    descending: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def chronological(self) -> list[ParsedLine]:
        """Lines oldest first, whatever order the bank printed them in."""
        return list(reversed(self.lines)) if self.descending else list(self.lines)

    @property
    def closing_balance(self) -> int | None:
        """The balance after the last transaction, if the file has a balance column."""
        for line in reversed(self.chronological()):
            if line.balance is not None:
                return line.balance
        return None

    @property
    def opening_balance(self) -> int | None:
        """The balance before the first transaction, derived from the first line's balance."""
        ordered = self.chronological()
        if ordered and ordered[0].balance is not None:
            return ordered[0].balance - ordered[0].amount
        return None

    def importable(self, *, skip_bad_lines: bool = False) -> list[ParsedLine]:
        """The lines to import. Raises ``StatementHasErrors`` while errors exist, unless
        ``skip_bad_lines`` is set, in which case only the good lines are returned."""
        if self.errors and not skip_bad_lines:
            shown = "; ".join(str(e) for e in self.errors[:5])
            more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
            raise StatementHasErrors(
                f"{len(self.errors)} malformed line(s), nothing imported: {shown}{more}",
                fields={
                    f"line {e.line}": [
                        FieldMessage(
                            e.bilingual(),
                            "bank_line",
                            line=e.line,
                            message=e.message,
                            zh=e.message_zh,
                        )
                    ]
                    for e in self.errors
                },
                params={"n": len({e.line for e in self.errors})},  # lines, not errors
            )
        return self.chronological()


# --- text helpers ----------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Fold full-width forms and collapse whitespace, so Big5 and UTF-8 exports agree."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str, bool]:
    """Decode statement bytes: ``(text, encoding used, had undecodable bytes)``.

    Auto-detection: a UTF-8 BOM means UTF-8; otherwise UTF-8 if the bytes are valid UTF-8
    (Big5 text almost never is), else cp950. ``big5`` is read as cp950, Microsoft's Big5,
    which is what Taiwanese banks' Windows exports really are (it has the extra characters
    such as 碁 and 銹 that plain Big5 lacks). Undecodable bytes become U+FFFD and the lines
    holding them are reported, rather than failing the whole file.
    """
    if encoding is None:
        if data.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8-sig"
        else:
            try:
                return data.decode("utf-8"), "utf-8", False
            except UnicodeDecodeError:
                encoding = "cp950"
    name = encoding.lower().replace("_", "-")
    if name in ("big5", "big-5", "cp950", "ms950"):
        encoding = "cp950"
    elif name in ("utf-8", "utf8"):
        # A BOM must work whatever the caller said.
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
        bad = False
    except LookupError as exc:
        raise StatementFormatError(
            f"Unknown encoding {encoding!r} / 不支援的編碼 {encoding!r}.",
            reason="unknown_encoding",
            params={"encoding": encoding},
        ) from exc
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="replace")
        bad = True
    return text.removeprefix("\ufeff"), encoding, bad


_ROC_SEP = re.compile(
    r"^(?:民國)?\s*(\d{1,3})\s*[/.\-年]\s*(\d{1,2})\s*[/.\-月]\s*(\d{1,2})\s*日?$"
)
_ISO_SEP = re.compile(r"^(\d{4})\s*[/.\-年]\s*(\d{1,2})\s*[/.\-月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(?:民國)?\s*(\d{6,8})$")
# Exports often append the time of day; the date is all a statement line needs.
_TIME = re.compile(r"(?:\s+|T)\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?$")


def parse_date(text: str) -> dt.date:
    """Parse a statement date: ROC (民國 115/11/26, 115.11.26, 1151126, 115年11月26日) or
    ISO (2026-11-26, 2026/11/26, 20261126). Raises ``ValueError`` if it is neither."""
    value = _TIME.sub("", _clean(text))
    if m := _ISO_SEP.match(value):
        year, month, day = (int(g) for g in m.groups())
    elif m := _ROC_SEP.match(value):
        year, month, day = (int(g) for g in m.groups())
        year += 1911
    elif m := _COMPACT.match(value):
        digits = m.group(1)
        if len(digits) == 8:  # YYYYMMDD; an 8-digit ROC date would be year 1000+
            year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
        else:  # YYYMMDD or YYMMDD (ROC years before 100)
            year, month, day = int(digits[:-4]) + 1911, int(digits[-4:-2]), int(digits[-2:])
    else:
        raise ValueError(text)
    if year < 1912:  # ROC year 0 or earlier: no Taiwanese bank prints that
        raise ValueError(text)
    return dt.date(year, month, day)


_EMPTY_AMOUNTS = frozenset(("", "-", "--", "—", "0", "0.00", "0.0"))


def _amount(text: str, currency: str) -> int | None:
    """Minor units from a statement cell; None for an empty cell. Raises InvalidAmount."""
    value = _clean(text).replace(" ", "").removesuffix("元")
    if value in _EMPTY_AMOUNTS:
        return None
    return parse_amount(value, currency)


def fingerprint(
    account: str,
    date: dt.date,
    amount: int,
    currency: str,
    memo: str,
    balance: int | None,
    occurrence: int,
) -> str:
    """The stable identity of a bank line (hex SHA-256).

    Account, date, amount, currency, memo and running balance say which transaction it is;
    the occurrence counter (0 for the first identical line in the file, 1 for the next ...)
    keeps two genuinely identical transfers on the same day apart while re-imports of the
    same file, or of an overlapping one, produce the same fingerprints. Currency is in
    because one foreign-currency account number can carry USD and JPY lines.
    """
    parts = (
        account,
        date.isoformat(),
        str(amount),
        currency,
        memo,
        "" if balance is None else str(balance),
        str(occurrence),
    )
    # JSON keeps the fields apart whatever characters a memo holds (no two inputs collide).
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


# --- the parser ------------------------------------------------------------------------------


def _resolve(ref: ColumnRef | None, header: dict[str, int]) -> int | None:
    if ref is None:
        return None
    for name in (ref,) if isinstance(ref, str) else ref:
        if name in header:
            return header[name]
    return None


def _names(ref: ColumnRef) -> str:
    return ref if isinstance(ref, str) else " / ".join(ref)


@dataclass(frozen=True)
class _Columns:
    date: int
    amount: int | None
    deposit: int | None
    withdrawal: int | None
    balance: int | None
    memo: tuple[int, ...]
    counterparty: tuple[int, ...]
    reference: int | None
    currency: int | None
    labels: dict[int, str]


def _find_header(rows: Iterator[list[str]], reader, mapping: ColumnMapping) -> tuple[_Columns, int]:
    """Read rows until the header that has every required column; return columns and its line."""
    required = [("date", mapping.date)]
    if mapping.amount is not None:
        required.append(("amount", mapping.amount))
    else:
        required += [
            (n, r) for n, r in (("deposit", mapping.deposit), ("withdrawal", mapping.withdrawal))
        ]
        required = [(n, r) for n, r in required if r is not None]
    for _ in range(mapping.max_header_search):
        row = next(rows, None)
        if row is None:
            break
        header = {}
        for i, cell in enumerate(row):
            header.setdefault(_clean(cell), i)
        if all(_resolve(ref, header) is not None for _, ref in required):
            idx = {name: _resolve(ref, header) for name, ref in required}

            def many(refs: tuple[ColumnRef, ...], header=header) -> tuple[int, ...]:
                return tuple(i for i in (_resolve(r, header) for r in refs) if i is not None)

            cols = _Columns(
                date=idx["date"],
                amount=idx.get("amount"),
                deposit=_resolve(mapping.deposit, header),
                withdrawal=_resolve(mapping.withdrawal, header),
                balance=_resolve(mapping.balance, header),
                memo=many(mapping.memo),
                counterparty=many(mapping.counterparty),
                reference=_resolve(mapping.reference, header),
                currency=_resolve(mapping.currency, header),
                labels={i: _clean(c) for i, c in enumerate(row)},
            )
            return cols, reader.line_num
    wanted = ", ".join(_names(ref) for _, ref in required)
    raise StatementFormatError(
        f"No header row with the columns {wanted} in the first {mapping.max_header_search} "
        f"rows (mapping {mapping.name!r}) / 前 {mapping.max_header_search} 列中找不到包含 "
        f"{wanted} 的標題列。",
        fields={"file": [f"missing columns: {wanted}"]},
        reason="no_header",
        params={"columns": wanted},
    )


def parse_statement(
    data: bytes,
    mapping: ColumnMapping,
    encoding: str | None = None,
    *,
    account: str = "",
    scheme: VirtualAccountScheme | None = None,
) -> ParsedStatement:
    """Parse a bank statement CSV into lines and per-line errors; never imports anything.

    ``encoding``: None to detect (BOM, UTF-8, else cp950/Big5), or a codec name.
    ``account``: the fund's bank account the statement is for; part of every fingerprint.
    ``scheme``: the fund's virtual-account scheme; when given, references in the memo,
    counterparty and reference columns are extracted onto each line.
    Raises ``StatementFormatError`` only when the file as a whole is unreadable (unknown
    encoding, no header row); everything line-level lands in ``errors``.
    """
    text, used, had_bad_bytes = decode(data, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    rows = iter(reader)
    cols, header_line = _find_header(rows, reader, mapping)
    result = ParsedStatement(
        mapping=mapping.name, account=account, encoding=used, header_line=header_line
    )
    default_currency = check_currency(mapping.default_currency)
    seen: dict[tuple, int] = {}
    required = [cols.date] + [
        i for i in (cols.amount, cols.deposit, cols.withdrawal) if i is not None
    ]
    need = max(required) + 1
    errors = result.errors
    last_row_end = reader.line_num

    for row in rows:
        line_no = last_row_end + 1  # the physical line the row starts on
        last_row_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        first = next(cell for cell in row if cell.strip()).strip()
        if first.startswith(mapping.footer_markers):
            continue

        def err(field: str, message: str, message_zh: str, line_no=line_no) -> None:
            errors.append(LineError(line_no, field, message, message_zh))

        if had_bad_bytes and any("\ufffd" in cell for cell in row):
            err(
                "encoding",
                f"bytes that are not valid {used}",
                f"含有無法以 {used} 解碼的位元組",
            )
            continue
        if len(row) < need:
            missing = [cols.labels.get(i, str(i)) for i in sorted(required) if i >= len(row)]
            err(
                missing[0],
                f"missing column {', '.join(repr(m) for m in missing)} "
                f"(row has {len(row)} columns)",
                f"缺少欄位{'、'.join(f'「{m}」' for m in missing)}（此列只有 {len(row)} 欄）",
            )
            continue

        def cell(i: int | None, row=row) -> str:
            return row[i] if i is not None and i < len(row) else ""

        problems = len(errors)
        raw_date = cell(cols.date).strip()
        try:
            date = parse_date(raw_date)
        except ValueError:
            date = None
            err(
                "date",
                f"date '{raw_date}' is not a valid ROC or ISO date",
                f"日期「{raw_date}」不是有效的民國或西元日期",
            )
        else:
            if date < mapping.earliest_date:
                err(
                    "date",
                    f"date '{raw_date}' reads as {date.isoformat()}, "
                    f"before {mapping.earliest_date.isoformat()}",
                    f"日期「{raw_date}」解讀為 {date.isoformat()}，"
                    f"早於 {mapping.earliest_date.isoformat()}",
                )
                date = None

        currency = default_currency
        raw_cur = _clean(cell(cols.currency)).upper()
        if raw_cur:
            # Taiwanese banks print 台幣/新臺幣 as well as TWD/NTD.
            raw_cur = {"NTD": "TWD", "NT$": "TWD", "台幣": "TWD", "新台幣": "TWD"}.get(
                raw_cur.replace("臺", "台"), raw_cur
            )
            try:
                currency = check_currency(raw_cur)
            except LedgerError:
                err(
                    "currency",
                    f"currency '{raw_cur}' is not supported",
                    f"不支援的幣別「{raw_cur}」",
                )

        amount = _line_amount(cols, cell, currency, mapping, err)
        balance = None
        if cols.balance is not None:
            raw_bal = cell(cols.balance).strip()
            try:
                balance = _amount(raw_bal, currency)
                if balance is None and raw_bal and raw_bal not in ("-", "--", "—"):
                    balance = 0
            except InvalidAmount:
                err(
                    "balance",
                    f"balance '{raw_bal}' is not a valid amount",
                    f"餘額「{raw_bal}」不是有效金額",
                )
        if len(errors) > problems or date is None or amount is None:
            continue

        memo = " ".join(t for t in (_clean(cell(i)) for i in cols.memo) if t)
        counterparty = " ".join(t for t in (_clean(cell(i)) for i in cols.counterparty) if t)
        refs: tuple[str, ...] = ()
        if scheme is not None:
            found: list[str] = []
            for source in (_clean(cell(cols.reference)), memo, counterparty):
                for ref in virtual_accounts.extract(source, scheme):
                    if ref not in found:
                        found.append(ref)
            refs = tuple(found)

        key = (date, amount, currency, memo, balance)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        result.lines.append(
            ParsedLine(
                line=line_no,
                date=date,
                amount=amount,
                currency=currency,
                memo=memo,
                counterparty=counterparty,
                balance=balance,
                virtual_accounts=refs,
                fingerprint=fingerprint(account, date, amount, currency, memo, balance, occurrence),
            )
        )

    result.descending = _is_descending(result.lines)
    return result


def _line_amount(cols: _Columns, cell, currency: str, mapping: ColumnMapping, err) -> int | None:
    """The signed amount of a row, reporting problems through ``err``; None if unusable."""

    def one(i: int | None, label: str, label_zh: str) -> tuple[bool, int | None]:
        raw = cell(i).strip()
        try:
            value = _amount(raw, currency)
        except InvalidAmount as exc:
            if "decimals" in exc.detail:
                err(
                    label,
                    f"{label} '{raw}' has fractions of a minor unit of {currency}",
                    f"{label_zh}「{raw}」的小數位數超過 {currency} 的最小單位",
                )
            else:
                err(
                    label,
                    f"{label} '{raw}' is not a valid amount",
                    f"{label_zh}「{raw}」不是有效金額",
                )
            return False, None
        if (
            value is not None
            and mapping.whole_twd
            and currency == "TWD"
            and value % 10 ** exponent("TWD")
        ):
            err(
                label,
                f"{label} '{raw}' is not a whole number of TWD",
                f"{label_zh}「{raw}」不是新臺幣整數元",
            )
            return False, None
        return True, value

    if cols.amount is not None:
        ok, value = one(cols.amount, "amount", "金額")
        if ok and value is None:
            err("amount", "amount is empty or zero", "金額為空白或零")
        return value if ok else None

    ok_in, deposit = one(cols.deposit, "deposit", "存入金額")
    ok_out, withdrawal = one(cols.withdrawal, "withdrawal", "支出金額")
    if not (ok_in and ok_out):
        return None
    if deposit is not None and withdrawal is not None:
        err(
            "amount",
            "both deposit and withdrawal are filled in",
            "存入與支出金額同時有值",
        )
        return None
    if deposit is None and withdrawal is None:
        err("amount", "neither deposit nor withdrawal has an amount", "存入與支出金額皆為空白")
        return None
    if deposit is not None:
        if deposit < 0:
            err("deposit", "deposit is negative", "存入金額為負數")
            return None
        return deposit
    # Banks print withdrawals unsigned or with a minus sign; either way money left.
    return -abs(withdrawal)


def _is_descending(lines: list[ParsedLine]) -> bool:
    """Whether the bank listed newest first: by dates, or by the running balance chain."""
    if len(lines) < 2:
        return False
    if lines[0].date != lines[-1].date:
        return lines[0].date > lines[-1].date
    # All on one day: the balance chain tells the order (newest first means each line's
    # balance is the next line's balance plus its own amount).
    asc = desc = 0
    for prev, cur in itertools.pairwise(lines):
        if prev.balance is None or cur.balance is None:
            continue
        asc += prev.balance + cur.amount == cur.balance
        desc += cur.balance + prev.amount == prev.balance
    return desc > asc
