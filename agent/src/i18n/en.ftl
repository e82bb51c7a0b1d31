# Messages for commune officials (English). Every key must also be in vi.ftl.

## Field names, value types, sexes, events

field-record = (record)
field-row = (row)
type-null = an empty cell
type-boolean = true/false
type-number = a number
type-text = text
type-list = a list
type-object = an object
sex-male = male
sex-female = female
event-birth = the birth
event-death = the death
event-husband-birth = the husband's birth
event-wife-birth = the wife's birth

## Problems in records (codes of protocol::validate::Problem)

problem-scan-missing = the scan file "{ $file }" does not exist (paths are relative to the imported file)
problem-scan-unreadable = the scan file "{ $file }" cannot be read
problem-scan-type = "{ $file }" is not a JPEG, PNG, TIFF or PDF file
problem-scan-too-large = the scan file "{ $file }" is larger than 50 MB
problem-scan-store = the scan "{ $file }" could not be stored in the data directory (disk full?)
problem-required = is required
problem-unknown-field = unknown field
problem-unknown-field-near = unknown field (did you mean { $suggestion }?)
problem-not-object = must be an object with fields, found { $found }
problem-not-list = must be a list, found { $found }
problem-item-not-object = must be an object, found { $found }
problem-too-many-items = has { $count } items; at most { $max } are allowed
problem-number-loses-zeros = must be written as text ("{ $value }" as a number loses leading zeros); in Excel, format the column as Text
problem-not-text = must be text, found { $found }
problem-not-whole-number = must be a whole number, found { $found }
problem-year-out-of-range = year { $year } is not between { $min } and { $max }
problem-entry-out-of-range = entry number { $entry } must be 1 or more
problem-implausible-size = { $bytes } is not a plausible file size in bytes
problem-unknown-kind = unknown kind "{ $value }" (expected birth, marriage or death)
problem-control-character = contains the control character { $code }
problem-too-long = is { $chars } characters long; at most { $max } are allowed
problem-not-commune-code = "{ $value }" is not a commune code (5 digits, e.g. 00004)
problem-bad-date-format = "{ $value }" is not a date (write 1998-03-15 or 15/03/1998)
problem-bad-date-format-partial = "{ $value }" is not a date (write 15/03/1998, or 03/1998, or 1998 when the book gives only the year)
problem-not-a-real-date = "{ $value }" is not a real date
problem-date-in-future = { $date } is in the future (today is { $today })
problem-date-too-early = { $date } is before { $earliest }
problem-not-sex = "{ $value }" is not male or female
problem-not-personal-id = "{ $value }" is not a personal id (12 digits)
problem-not-province-code = "{ $value }" starts with { $prefix }, which is not a province code
problem-not-a-hash = is not a SHA-256 hash ({ $detail })
problem-media-type = "{ $value }" is not one of { $allowed }
problem-before-event = { $date } is before { $event } ({ $other_field } { $other_date })
problem-parent-born-after-child = { $year } is not before the child's birth ({ $child_year })
problem-id-sex-mismatch = digit 4 says { $id_says }, but the record says { $record_says }
problem-id-year-mismatch = digits 4-6 say born in { $id_year }, but the record says { $record_year }
problem-more-problems = … and { $count } more problems
problem-duplicate-key = appears twice (spelled in two Unicode forms or with spaces)
problem-record-too-large = is { $kb } KB; a record is at most { $max_kb } KB
problem-invalid-json = invalid JSON: { $detail }
problem-record-not-object = must be a JSON object, found { $found }
problem-hash-mismatch = the record's content hash is { $computed }, not { $sent } as sent
problem-id-scientific = "{ $value }" is a number Excel wrote in scientific notation, which lost digits; format the column as Text and type the id again
problem-no-kind = the kind of register is not given: add a Loại column, name the sheet Khai sinh, Kết hôn or Khai tử, or use --kind
problem-cells-count = has { $cells } cells but the header has { $columns } columns
problem-foreign-column = column "{ $column }" is not part of a { $kind } record; leave it empty
problem-other-commune = { $commune } is not this office's commune ({ $own }); this agent uploads for { $own } only
problem-legacy-encoding = "{ $value }" looks typed in the old { $encoding } encoding (it reads "{ $fixed }"); convert the file to Unicode with: hotich-agent convert --from { $from } FILE NEWFILE, and import the new file
problem-conflict-new = { $key } is already in the journal as entry #{ $seq } with different content. If this record corrects it, add "supersedes": "{ $existing }"; if it is another entry, from the book of a former commune merged into this one, give that commune's code (column Mã xã cũ, or import --former-commune CODE): it is then a record of its own
problem-conflict-stale = supersedes { $supersedes }, but the current version of { $key } is entry #{ $seq } ({ $existing })

## Reading files

file-cannot-read = cannot read: { $detail }
file-not-regular = is not a regular file; save the records to a file and import that
file-empty = the file is empty: it holds no records
file-utf16 = the file is UTF-16 text; save it again as UTF-8 (in Excel: "CSV UTF-8 (Comma delimited)")
file-not-utf8 = byte { $byte } at column { $column }: the file is not UTF-8 text; it looks like an export in a legacy Vietnamese encoding (Windows-1258, TCVN3/ABC or VNI). Save it again as UTF-8 (in Excel: Save As "CSV UTF-8 (Comma delimited)"), or convert it: hotich-agent convert --from tcvn3 FILE NEWFILE
file-json-start = invalid JSON: a record file must start with [ (a list of records) or { "{" } (one record per line)
file-json-array-broken = invalid JSON: { $detail } at column { $column } (nothing from this file was imported)
file-unknown-type = unknown file type: use .xlsx, .csv, .jsonl (one JSON record per line) or .json (a JSON list)
file-old-spreadsheet = this is an older spreadsheet format; open it in Excel and save it as "Excel Workbook (.xlsx)", then import the .xlsx
file-xlsx-unreadable = cannot read the Excel file: { $detail }
file-header-unreadable = cannot read the header: { $detail }
file-csv-broken = cannot read CSV: { $detail }
file-month-first = column "{ $column }" holds "{ $value }", a date written month first (an English-language Excel). Nothing from this file was imported: the column's other dates (such as 03/04/1998) would be read wrong too. Set Excel to the Vietnamese date format (day/month/year) or write the dates as 15/03/1998, then import again
header-unnamed = column { $column } has no name in the header
header-twice = column "{ $column }" appears twice in the header
header-list-position = column "{ $column }": list positions go from 0 to { $max }
header-unknown = unknown column "{ $column }"{ $hint }
header-did-you-mean = { " " }(did you mean { $name }?)
header-missing = missing required { $count ->
    [one] column
   *[other] columns
} { $columns }

## Time

duration-seconds = { $s } s
duration-minutes = { $m } min
duration-hours = { $h } h { $m } min
duration-days = { $d } days { $h } h
when-now = just now
when-in = in { $d }
when-ago = { $d } ago

## Import, validate, template, convert

import-file-summary = { $accepted } accepted, { $present } already present, { $rejected } rejected
import-attached = scans attached to { $records } records already in the journal (a page scanned later; not a correction)
import-rejects-written = { " " }(written to { $path })
import-more-problems = … { $count } more problems, see the rejects file
import-rejects-unwritable = { $file }: cannot write rejects file { $rejects }: { $detail }
import-finished = Import finished: { $accepted } accepted, { $present } already present, { $rejected } rejected
import-see-rejects = { " " }(see { $files })
import-files-refused = , { $count } file(s) refused
validate-summary = { $records } records checked: { $valid } valid, { $invalid } with problems
validate-files-refused = , { $count } file(s) could not be read
template-written = Wrote the { $kind } template to { $path }
template-unwritable = cannot write { $path }: { $detail }
convert-written = Converted { $input } from { $encoding } to Unicode (UTF-8): { $output }
file-cannot-read-named = cannot read { $path }: { $detail }

## Setup, verify, requeue

init-done = Agent set up for commune { $commune } in { $dir }
    Server: { $server }
    Journal: { $journal } ({ $entries } entries)
init-token-empty = the token is empty
init-ca-not-a-file = CA certificate { $path } is not a file
init-other-commune = the journal in { $dir } holds records of commune { $old }; set up commune { $new } in a new data directory (--data-dir)
verify-scans-intact = { $count } page scans are intact
verify-scan-missing = entry #{ $seq }: scan { $hash } is missing
verify-scan-altered = entry #{ $seq }: scan { $hash } was altered
verify-scans-broken = { $count } page scans are not as imported ({ $list }); import those scans again from the original files, and tell the IT officer
verify-intact = Journal intact: { $entries } entries, every hash and the chain check out.
verify-altered = journal { $path } was altered: entry #{ $seq }: { $detail }
requeue-done = { $count } refused record(s) put back in the queue; they will be sent at the next sync.

## Sync

sync-waiting = { $count } record(s) waiting
sync-progress = sent { $sent }, { $pending } waiting
sync-already-held = { $count } record(s) were already at the server (marked as sent)
sync-resend = { $count } record(s) the server no longer has will be sent again
sync-retrying = { $error }; trying again in { $wait }
sync-complete = Sync complete: { $stored } record(s) stored centrally, { $refused } refused, { $pending } waiting.
sync-refused-some = { $count } record(s) were not stored (refused by the server, or damaged in the journal); see `hotich-agent status` for each reason and what to do.
sync-timed-out = stopped after { $after }: { $sent } record(s) sent; { $pending } record(s) are still waiting safely in the journal (the link kept failing: { $error }). { $hint }
sync-stalled = nothing could be sent for { $after } ({ $error }); { $sent } record(s) sent; { $pending } record(s) are waiting safely in the journal. { $hint }
sync-needs-person = { $error }. { $pending } record(s) are waiting safely in the journal.
sync-cancelled = the sync was stopped; { $pending } record(s) are waiting safely in the journal. { $hint }
sync-no-result = the sync ended without a result at { $time }; see `hotich-agent status`
sync-other-running = another `hotich-agent sync` is already running for this data directory; wait for it to finish
sync-service-silent = the service did not finish within { $after }; the records stay in the journal and the service keeps trying
sync-bad-timeout = --timeout { $value }: give a number of seconds above 0 and at most { $max } (a week)
continue-service = The service keeps trying by itself; `hotich-agent status` shows its progress.
continue-no-service = Nothing retries by itself while no service runs: run `hotich-agent sync` again when the network is back, or start the service (`hotich-agent run`) so it keeps trying.

## Link and server errors

api-error-connect = { $why ->
    [refused] the server refused the connection (it is not running, or the address or port is wrong)
    [dns] the server's name was not found (no network yet, or the address is mistyped)
    [unreachable] no route to the server (check the network cable or Wi-Fi)
   *[other] cannot reach the server: { $detail }
}
api-error-timeout = the server did not answer within { $secs } s
api-error-transport = the connection to the server broke: { $detail }
api-error-unavailable = the server is unavailable (HTTP { $status }): { $detail }
api-error-unauthorized = the server does not accept this agent's token: { $detail }. Ask the IT staff for a new token and run `hotich-agent init --force`
api-error-forbidden = the server refuses this agent: { $detail }
api-error-too-large = the request is too large for the server: { $detail }
api-error-refused = the server refused the request (HTTP { $status }): { $detail }
api-error-bad-answer = the server's answer could not be read: { $detail }
api-error-setup = cannot set up the HTTP client: { $detail }
api-error-internal = internal error: { $detail }
api-error-no-answer-in-time = the server did not answer in time
api-error-scans-still-sending = page scans are still being sent; the service goes on sending them
api-error-journal-behind = the server holds { $server } entries from this agent but this journal has only { $local }: was the data directory replaced or restored from an old copy? Uploading is stopped so that nothing is sent under numbers already used. Restore this data directory from its backup, or tell the IT staff
api-error-journal-differs = the server's copy of this journal differs from the local one at or before entry #{ $at }. Uploading is stopped so that nothing is sent under numbers already used. Restore this data directory from its backup, or tell the IT staff
api-error-too-old = the central server accepts hotich-agent { $required } or newer; this PC runs { $running }. Install hotich-agent { $required } or newer (ask the IT staff); the records already entered stay in the journal and are sent after the upgrade
client-token-unreadable = this account cannot read the agent's token (it is the service's alone): start the service (`sudo systemctl start hotich-agent`) and run the command again, or ask the IT staff

## Refused records

refusal-rejected = refused by the server: { $problems }. Fix it in the source file and import it again
refusal-conflict = conflict: the central database holds a different version of this book entry ({ $existing }). If this record corrects it, import the corrected record with "supersedes": "{ $existing }"; if it is another entry, from the book of a former commune, import it again with that commune's code (column Mã xã cũ, or --former-commune CODE)
refusal-too-large = the record is too large for the server
refusal-damaged = this entry is damaged in the journal; run `hotich-agent verify` and tell the IT staff
refusal-old-normal-form = this record was written by a test version of the agent before book numbers lost their leading zeros; import its source file again into a new data directory

## Status

status-commune = Commune
status-server = Server
status-server-reachable = reachable at the last attempt
status-server-unreachable = NOT reachable at the last attempt
status-server-not-contacted = not contacted yet
status-service = Service
status-service-running = running
status-service-not-running = not running
status-records = Records
status-records-value = { $total } in the journal: { $sent } sent, { $waiting } waiting, { $refused } refused by the server
status-scans = Page scans
status-scans-value = { $stored } stored centrally, { $waiting } waiting, { $damaged } damaged on this PC; { $records } records still waiting for their scans
status-scan-damaged = damaged on this PC ({ $problem })
status-scan-attachment-unsent = attached, not yet sent
status-scan-stored = stored centrally
status-scan-waiting = waiting
status-scan-attached = (attached later)
status-oldest = Oldest waiting
status-last-success = Last success
status-never = never
status-last-error = Last error
status-next-retry = Next retry
status-next-retry-no-service = nothing retries while the service is not running: start it (hotich-agent run) or run hotich-agent sync when the network is back
status-next-retry-value = { $when } (after { $failures } failed attempts)
status-in-sync = In sync
status-in-sync-value = everything in the journal is at the central database
status-warning = WARNING
status-alerts = the server recorded { $count } integrity alert(s) for this agent; tell the IT staff
status-refused-header = Refused by the server (fix the cause, then run `hotich-agent requeue`):
status-refused-more = … and { $count } more
status-closed-header = Refused records since closed ({ $count }):
status-resolved-by = resolved by correction #{ $seq }
status-dismissed = dismissed: { $reason }
dismiss-done = Dismissed #{ $seq }: it stays in the journal and is reported to the server as dismissed.
dismiss-not-refused = #{ $seq } is not a refused record (see hotich-agent status): only refused records can be dismissed
dismiss-no-reason = say why it is dismissed: --reason "…"
backup-exists = { $path } exists: choose another name (an older backup is never overwritten)
backup-done = Journal backed up to { $path }: { $entries } record(s) ({ $waiting } waiting), every hash and the chain check out.
restore-not-empty = the journal in { $dir } already holds { $count } record(s): restore onto a new setup, or use --force (the current journal is kept as journal.db.before-restore)
restore-not-a-journal = { $path } is not a usable journal backup: { $detail }
restore-done = Restored { $entries } record(s) from { $path } ({ $waiting } waiting). Once connected, only what the server lacks is sent.
recover-done = Journal recovered from the server's copy: { $recovered } record(s) downloaded ({ $refused } once refused), { $entries } in the journal, every hash and link checked.
recover-differs = the server's copy of this journal does not match the one here at entry #{ $seq }: stopped, nothing more written. Tell the IT staff
recover-missing = the server does not hold the content of entry #{ $seq }: what follows cannot be recovered. Tell the IT staff
status-journal-problem = JOURNAL PROBLEM
status-data-dir = Data directory
status-upload-limit = Upload limit
status-upload-limit-value = { $inside } on { $days } { $hours } (Vietnam time), { $outside } otherwise; now: { $now }
status-upload-unlimited = no limit

## General errors

error-not-initialized = no agent is set up in { $dir } (run `hotich-agent init --server URL --token TOKEN --commune CODE` first)
error-already-initialized = { $dir } already holds an agent; use --force to set it up again (the journal is kept)
error-config-read = cannot read { $path }: { $detail }
error-config-write = cannot write { $path }: { $detail }
error-config-invalid = { $path }: { $detail }
error-no-data-dir = no data directory: set --data-dir or HOTICH_DATA_DIR (this platform has no default)
error-not-member = the agent's service keeps its data in { $dir }, which this account may not use: ask the IT staff to add you to the group hotich (`sudo usermod -aG hotich YOUR_NAME`, then log in again)
error-journal-lost = journal { $path }: { $detail }
error-journal-too-new = journal { $path } was written by a newer hotich-agent; install that version
error-journal = journal error: { $detail }
error-disk-full = the disk holding { $path } ran out of space ({ $free } free now): delete some files, or ask the IT staff to move the data directory to another disk. The journal is intact
import-disk-full = { $full }. { $saved } record(s) were saved before the disk filled; after freeing space, import the file again: the saved records are recognized and not stored twice
error-lock-held = another hotich-agent service or sync is already running for { $dir }{ $holder }
error-lock = { $detail }
error-io = { $context }: { $detail }

## A lost or replaced journal

journal-recovery = Nothing was changed. Put back journal.db from this PC's backup (with journal.db-wal if there is one), or tell the IT staff; do not delete journal-id.json
journal-held = { " " }(it held { $count } entries)
journal-missing = journal.db is missing{ $held }
journal-empty = journal.db is empty (0 bytes){ $held }
journal-unreadable = cannot read journal.db: { $detail }
journal-not-this = journal.db is not this agent's journal (its id is { $id }, this data directory's is { $expected })
journal-behind = journal.db has { $head } entries but held { $held }: it was replaced by an older copy or lost entries
journal-id-unreadable = cannot read { $file }: { $detail }
journal-id-damaged = { $file } is damaged: { $detail }
journal-old-format = the journal is in an older format (schema { $version }); it is brought up to date by any command that may write, run by the data directory's owner
journal-upgrade-broken-reference = the journal could not be brought up to date: a row of { $table } names an entry the journal does not hold; nothing was changed (copy the data directory and call district IT)
journal-upgrading = Updating the journal to this version's format ({ $entries } records): this takes about a minute per million records and happens once. Do not turn the computer off; if it is, nothing is lost and it starts again.

## Setup checks and doctor

init-offline = Not checked with the server (--offline): run `hotich-agent doctor` once the network is there.
init-server-holds-more = NOTE: the server already holds { $server } entries of this token's journal; the journal here has { $local }. Is this a replacement PC? Restore the latest backup (hotich-agent restore FILE), or ask the IT staff for a recovery code and run hotich-agent recover --code CODE (it also fetches what the server holds beyond a backup), before importing new records; otherwise new records would reuse numbers already sent and would not be uploaded.
init-confirmed = The server knows this token: commune { $commune }{ $place }; this PC's clock is { $skew } s off the server's.
init-token-refused = the server at { $server } does not accept this token: { $detail }. Check the token from `hotich-server agent add`; nothing was written.
init-unreachable = cannot check the setup with the server at { $server }: { $detail }. Check the address and the network (or the CA certificate for https), or set up now with --offline and run `hotich-agent doctor` later; nothing was written.
init-check-failed = the server at { $server } could not confirm this setup: { $detail }; nothing was written.
init-wrong-commune = this token belongs to commune { $token_commune }, not { $commune }: check the commune code, or ask the IT staff for this commune's token; nothing was written.
doctor-check-config = Setup
doctor-check-server = Server
doctor-check-clock = Clock
doctor-check-disk = Disk
doctor-check-journal = Journal
doctor-check-service = Service
doctor-config = { $path }: commune { $commune }, server { $server }
doctor-clock-ok = { $skew } s off the server's clock
doctor-clock-off = this PC's clock is { $skew } s off the server's: set the date and time (dates on the dashboard and in the journal depend on it)
doctor-disk = { $mb } MB free
doctor-disk-unknown = free space unknown
doctor-journal = { $total } entries, { $pending } waiting, { $parked } refused
doctor-service-running = running (process { $pid })
doctor-service-stopped = not running: records are sent only when someone runs `hotich-agent sync`
doctor-wrong-commune = the token in the setup belongs to commune { $token_commune }, not { $commune }: run `hotich-agent init --force` with this commune's token
config-show-header = # In use: the defaults, then { $path }, then HOTICH_* variables, then --set flags.
config-show-override = # { $key } from { $source }

# The official's page (hotich-agent open)
ui-title = Civil registry – sync
ui-commune = Commune { $commune }
ui-server = Server: { $server }
ui-lang-switch = Tiếng Việt
ui-queue = Upload queue
ui-waiting = Waiting
ui-sent = Stored centrally
ui-refused = Refused
ui-link = Link
ui-link-up = The server answers
ui-link-down = The server cannot be reached
ui-link-unknown = Not tried yet
ui-last-success = Last successful upload
ui-next-try = Next upload
ui-never = never
ui-ago = { $time } ({ $ago } ago)
ui-in = { $time } (in { $wait })
ui-next-soon = as soon as possible
ui-next-nothing = nothing is waiting
ui-last-error = Last error ({ $time }): { $error }
ui-sync-now = Sync now
ui-syncing = Syncing…
ui-sync-done = Sync finished: { $sent } sent, { $pending } waiting, { $refused } refused.
ui-sync-stopped = Not everything was sent: { $sent } sent; { $pending } records stay safe on this PC and the service keeps trying ({ $error }).
ui-service-stopping = The sync service is stopping; try again in a few minutes.
ui-import = Import a file of records
ui-import-help = Choose an Excel (.xlsx), CSV or JSON Lines (.jsonl) file in the template's layout. Valid rows are saved on this PC at once; rows with problems are listed and written to a separate file to fix and import again.
ui-import-button = Import
ui-official-label = Typed by:
ui-import-choose-official = Choose who is typing first.
ui-import-choose = Choose a file first.
ui-importing = Importing…
ui-import-result = { $accepted } new records taken, { $present } already present, { $rejected } rows refused.
ui-import-row = Line { $line }
ui-import-row-sheet = Sheet { $sheet }, row { $line }
ui-import-more = … and { $count } more refused rows: see the rejects file.
ui-import-failed = The file could not be imported: { $error }
ui-import-too-large = the file is larger than 100 MB; split it into smaller files
ui-import-no-name = the file has no name
ui-rejects-download = Download the refused rows ({ $name }) to fix and import again
ui-rejects-gone = This file is gone (rejects files are kept 7 days); import the original file again.
ui-col-where = Where
ui-col-problem = Problem and how to fix it
ui-refused-title = Records the server refused
ui-refused-help = These records are not stored centrally. Fix them in the original file and import it again; if a record need not be sent, tell the IT officer (hotich-agent dismiss).
ui-refused-none = No record was refused.
ui-refused-entry = Entry { $seq }
ui-templates = Blank templates
ui-templates-help = Each template has the columns, date formats and drop-down lists; open it in Excel or LibreOffice.
ui-request-failed = The service on this PC does not answer ({ $error }); reload the page.
ui-session-ended = The session has ended. Open the page again from the "Hộ tịch – Đồng bộ" icon or with hotich-agent open.
ui-login-needed-title = Open the page with a new link
ui-login-needed = This page opens only from the "Hộ tịch – Đồng bộ" desktop icon or with hotich-agent open. Each link works once, within 5 minutes.
ui-login-used = This link was already used or has expired. Open the page again from the "Hộ tịch – Đồng bộ" desktop icon or with hotich-agent open.
ui-forbidden-title = Request refused
ui-forbidden = This request did not come from the sync page on this PC, so it was refused.
open-no-service = The sync service is not running on this PC, so the page cannot open. Start it (sudo systemctl start hotich-agent, or run hotich-agent run) and try again.
open-service-refused = The sync service did not give a link ({ $error }); try again, or tell the IT officer.
open-opening = Opening the sync page in the browser…
open-no-browser = The browser could not be opened ({ $error }). Paste this link into the browser (it works once, within 5 minutes): { $url }

receipt-bad-span = the receipt names no entries
receipt-no-entry = this journal has no entry #{ $seq }
receipt-chain-differs = the chain hash of entry #{ $seq } in this journal is not the one the centre signed
receipt-bad-signature = the signature does not match (altered, or not signed by this centre)
receipt-bad-key = "{ $key }" is not an Ed25519 public key in hex
receipt-failed = receipt { $id } (entries #{ $first }–#{ $last }): { $problem }
receipts-summary = { $verified } of { $total } receipts verified; the centre acknowledged entries through #{ $through }
official-unknown = "{ $name }" is not on this office's list of officials ({ $list }); add the name with: hotich-agent official add "{ $name }"
official-choose = who is entering these records? Give --official NAME, one of: { $list }
official-added = { $name } added to the office's officials
official-known = { $name } is already on the office's list
official-none = no officials listed yet; add one with: hotich-agent official add "NAME"
problem-correction-reason-missing = a correction (supersedes) must say why: fill in Lý do cải chính ("correction_reason")
official-needs-admin = the list of officials is part of the service's setup: ask the administrator to run: sudo hotich-agent official add "{ $name }"
official-bad-name = "{ $name }": an official's name is 1 to 100 characters, on one line
status-book-entry = { $kind } { $year }, book { $book }, entry { $entry }
status-former-commune = book of former commune { $code }
import-second-keying = second keying: { $keyed } entries kept, { $present } already present; against the first keying on this PC: { $agree } agree, { $differ } differ (see hotich-agent review after syncing), { $elsewhere } not typed on this PC before (the centre compares them); { $rejected } rejected
problem-second-keying-own = { $official } typed this entry the first time: a second keying must be by another official
second-keying-needs-official = a second keying or a confirmation names its official: add the name with hotich-agent official add "NAME", then give --official "NAME"
book-name = { $kind } { $year }, book { $book }
book-close-bad = cannot close the book: { $problem }
book-closed = noted: { $book } holds { $entries } entries{ $missing }; sent to the server with the next sync
book-closed-missing = ; lost: { $entries } ({ $reason })
book-line-declared = { $book }: { $captured } of { $declared } entries captured
book-line-open = { $book }: { $captured } entries captured (book not closed)
book-line-missing = never captured: { $entries }
book-line-lost = declared lost: { $entries } ({ $reason })
book-line-checks = verified { $verified }, discrepancies { $discrepancies }, refused { $refused }, corrected { $corrected }
books-local = the server could not be asked ({ $error }); the figures below are this PC's only
books-none = no books yet
review-empty = (empty)
review-entry = { $entry }: typed first by { $first }, second by { $second }; they differ in:
review-field = { $field }: first { $first }, second { $second }
review-how = if the first is right: hotich-agent review confirm { $key } --official "NAME" (not the official who typed the first); if it is wrong: import a correction with its Lý do cải chính
review-summary = { $discrepancies } entries with unresolved discrepancies; { $verified } verified; { $own } keyed again by the first official (not counted); { $waiting } waiting for the first keying
review-confirm-unknown = { $key } is not on the server's list of discrepancies (see hotich-agent review)
review-confirm-own = { $official } typed this entry the first time: another official must confirm it
review-confirmed = noted: { $official } confirms the first keying of { $entry }; sent to the server with the next sync
book-bad-entries = a book holds 1 to { $max } entries (given: { $entries })
book-bad-missing = entry { $entry } is not in a book of { $entries } entries
book-missing-needs-reason = entries declared missing need a reason: add --reason "why" (for example "trang 4 bị rách")
book-bad-book = { $detail }
