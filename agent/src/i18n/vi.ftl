# Thông báo cho cán bộ hộ tịch (tiếng Việt). Mỗi khóa cũng phải có trong en.ftl.

## Tên trường, kiểu giá trị, giới tính, sự kiện

field-record = Hồ sơ
field-row = Dòng
type-null = ô trống
type-boolean = đúng/sai
type-number = một số
type-text = chữ
type-list = một danh sách
type-object = một nhóm thông tin
sex-male = Nam
sex-female = Nữ
event-birth = ngày sinh
event-death = ngày chết
event-husband-birth = ngày sinh của chồng
event-wife-birth = ngày sinh của vợ

## Lỗi trong hồ sơ (theo mã của protocol::validate::Problem)

problem-scan-missing = không tìm thấy tệp ảnh "{ $file }" (đường dẫn tính từ thư mục của tệp đang nhập)
problem-scan-unreadable = không đọc được tệp ảnh "{ $file }"
problem-scan-type = tệp "{ $file }" không phải ảnh JPEG, PNG, TIFF hay tệp PDF
problem-scan-too-large = tệp ảnh "{ $file }" lớn hơn 50 MB
problem-scan-store = không lưu được ảnh "{ $file }" vào thư mục dữ liệu (đĩa đầy?)
problem-required = còn trống, cần phải ghi
problem-unknown-field = không có trong mẫu hồ sơ
problem-unknown-field-near = không có trong mẫu hồ sơ (có phải là "{ $suggestion }"?)
problem-not-object = phải là một nhóm thông tin, nhưng lại là { $found }
problem-not-list = phải là một danh sách, nhưng lại là { $found }
problem-item-not-object = phải là một nhóm thông tin, nhưng lại là { $found }
problem-too-many-items = có { $count } mục; nhiều nhất { $max } mục
problem-number-loses-zeros = phải ghi dạng chữ ("{ $value }" ghi dạng số sẽ mất các số 0 ở đầu); trong Excel hãy định dạng cột là Text
problem-not-text = phải là chữ, nhưng lại là { $found }
problem-not-whole-number = phải là một số nguyên, nhưng lại là { $found }
problem-year-out-of-range = năm { $year } không nằm trong khoảng { $min } đến { $max }
problem-entry-out-of-range = số { $entry } phải từ 1 trở lên
problem-implausible-size = { $bytes } không phải kích thước tệp hợp lý
problem-unknown-kind = loại sổ "{ $value }" không rõ (phải là Khai sinh, Kết hôn hoặc Khai tử)
problem-control-character = có ký tự điều khiển { $code }
problem-too-long = dài { $chars } ký tự; nhiều nhất { $max } ký tự
problem-not-commune-code = "{ $value }" không phải mã xã (5 chữ số, ví dụ 00004)
problem-bad-date-format = "{ $value }" không phải là ngày (hãy ghi như 15/03/1998)
problem-bad-date-format-partial = "{ $value }" không phải là ngày (hãy ghi như 15/03/1998, hoặc 03/1998, hoặc 1998 khi sổ chỉ ghi năm)
problem-not-a-real-date = ngày "{ $value }" không có thật
problem-date-in-future = { $date } là ngày trong tương lai (hôm nay là { $today })
problem-date-too-early = { $date } trước ngày { $earliest }
problem-not-sex = "{ $value }" không phải Nam hoặc Nữ
problem-not-personal-id = "{ $value }" không phải số định danh cá nhân (12 chữ số)
problem-not-province-code = "{ $value }" bắt đầu bằng { $prefix }, không phải mã tỉnh
problem-not-a-hash = không phải mã SHA-256 ({ $detail })
problem-media-type = "{ $value }" không phải một trong các loại { $allowed }
problem-before-event = { $date } trước { $event } ({ $other_field }: { $other_date })
problem-parent-born-after-child = năm sinh { $year } không trước năm sinh của con ({ $child_year })
problem-id-sex-mismatch = chữ số thứ 4 cho biết giới tính { $id_says }, nhưng hồ sơ ghi { $record_says }
problem-id-year-mismatch = chữ số thứ 4–6 cho biết sinh năm { $id_year }, nhưng hồ sơ ghi { $record_year }
problem-more-problems = … và { $count } lỗi khác
problem-duplicate-key = xuất hiện hai lần
problem-record-too-large = dài { $kb } KB; mỗi hồ sơ nhiều nhất { $max_kb } KB
problem-invalid-json = không phải JSON hợp lệ: { $detail }
problem-record-not-object = phải là một hồ sơ JSON, nhưng lại là { $found }
problem-hash-mismatch = mã nội dung tính được là { $computed }, khác với { $sent } đã gửi
problem-id-scientific = "{ $value }" là số Excel đã ghi dạng khoa học và bị mất chữ số; hãy định dạng cột này là Text (Văn bản) rồi gõ lại số định danh
problem-no-kind = không rõ là sổ gì: hãy thêm cột Loại, đặt tên trang tính là Khai sinh, Kết hôn hoặc Khai tử, hoặc dùng --kind
problem-cells-count = có { $cells } ô nhưng dòng tiêu đề có { $columns } cột
problem-foreign-column = cột "{ $column }" không thuộc hồ sơ { $kind }; hãy để trống
problem-other-commune = mã xã { $commune } không phải của xã này ({ $own }); máy này chỉ gửi hồ sơ của xã { $own }
problem-legacy-encoding = "{ $value }" có vẻ được gõ bằng bảng mã { $encoding } cũ (đúng ra là "{ $fixed }"); hãy chuyển tệp sang Unicode: hotich-agent convert --from { $from } TỆP TỆP_MỚI, rồi nhập tệp mới
problem-conflict-new = mục { $key } đã có trong sổ (bản ghi #{ $seq }) với nội dung khác. Nếu đây là bản cải chính, thêm "supersedes": "{ $existing }"; nếu là một mục khác thuộc sổ của xã cũ đã sáp nhập, hãy ghi mã xã cũ (cột Mã xã cũ, hoặc import --former-commune MÃ): khi đó nó là một hồ sơ riêng
problem-conflict-stale = bản ghi này cải chính { $supersedes }, nhưng bản hiện tại của mục { $key } là bản ghi #{ $seq } ({ $existing })

## Đọc tệp

file-cannot-read = không đọc được tệp: { $detail }
file-not-regular = không phải là tệp thông thường; hãy lưu hồ sơ vào một tệp rồi nhập tệp đó
file-empty = tệp trống, không có hồ sơ nào
file-utf16 = tệp đang ở dạng UTF-16; hãy lưu lại dưới dạng UTF-8 (trong Excel: Lưu thành "CSV UTF-8 (Comma delimited)")
file-not-utf8 = byte { $byte } ở cột { $column }: tệp không phải chữ UTF-8, có vẻ được xuất bằng bảng mã tiếng Việt cũ (Windows-1258, TCVN3/ABC hoặc VNI). Hãy lưu lại dưới dạng UTF-8 (trong Excel: Lưu thành "CSV UTF-8 (Comma delimited)"), hoặc chuyển đổi: hotich-agent convert --from tcvn3 TỆP TỆP_MỚI
file-json-start = JSON không hợp lệ: tệp hồ sơ phải bắt đầu bằng [ (một danh sách) hoặc { "{" } (mỗi dòng một hồ sơ)
file-json-array-broken = JSON không hợp lệ: { $detail } ở cột { $column } (chưa nhập gì từ tệp này)
file-unknown-type = loại tệp không rõ: hãy dùng .xlsx, .csv, .jsonl (mỗi dòng một hồ sơ JSON) hoặc .json (một danh sách JSON)
file-old-spreadsheet = đây là dạng bảng tính cũ; hãy mở bằng Excel và lưu thành "Excel Workbook (.xlsx)" rồi nhập tệp .xlsx
file-xlsx-unreadable = không đọc được tệp Excel: { $detail }
file-header-unreadable = không đọc được dòng tiêu đề: { $detail }
file-csv-broken = không đọc được CSV: { $detail }
file-month-first = cột "{ $column }" có ngày "{ $value }" ghi theo kiểu tháng trước ngày (Excel đặt ngôn ngữ tiếng Anh). Không nhập gì từ tệp này, vì các ngày khác trong cột (như 03/04/1998) cũng sẽ bị đọc sai. Hãy đặt Excel về định dạng ngày của Việt Nam (ngày/tháng/năm) hoặc ghi lại ngày như 15/03/1998, rồi nhập lại
header-unnamed = cột thứ { $column } chưa có tên ở dòng tiêu đề
header-twice = cột "{ $column }" xuất hiện hai lần ở dòng tiêu đề
header-list-position = cột "{ $column }": vị trí trong danh sách chỉ từ 0 đến { $max }
header-unknown = cột "{ $column }" không có trong mẫu{ $hint }
header-did-you-mean = { " " }(có phải là "{ $name }"?)
header-missing = thiếu { $count ->
    [one] cột
   *[other] các cột
} bắt buộc: { $columns }

## Thời gian

duration-seconds = { $s } giây
duration-minutes = { $m } phút
duration-hours = { $h } giờ { $m } phút
duration-days = { $d } ngày { $h } giờ
when-now = vừa xong
when-in = sau { $d } nữa
when-ago = { $d } trước

## Nhập, kiểm tra, mẫu, chuyển mã

import-file-summary = { $accepted } hồ sơ đã nhận, { $present } đã có từ trước, { $rejected } bị từ chối
import-attached = đã gắn ảnh trang sổ vào { $records } hồ sơ đã có (ảnh chụp sau; không phải cải chính)
import-rejects-written = { " " }(đã ghi vào { $path })
import-more-problems = … còn { $count } lỗi khác, xem tệp hồ sơ bị từ chối
import-rejects-unwritable = { $file }: không ghi được tệp hồ sơ bị từ chối { $rejects }: { $detail }
import-finished = Nhập xong: { $accepted } hồ sơ đã nhận, { $present } đã có từ trước, { $rejected } bị từ chối
import-see-rejects = { " " }(xem { $files })
import-files-refused = , { $count } tệp không đọc được
validate-summary = Đã kiểm tra { $records } hồ sơ: { $valid } hợp lệ, { $invalid } có lỗi
validate-files-refused = , { $count } tệp không đọc được
template-written = Đã ghi mẫu sổ { $kind } vào { $path }
template-unwritable = không ghi được { $path }: { $detail }
convert-written = Đã chuyển { $input } từ bảng mã { $encoding } sang Unicode (UTF-8): { $output }
file-cannot-read-named = không đọc được { $path }: { $detail }

## Cài đặt, kiểm tra nhật ký, gửi lại

init-done = Đã cài đặt máy cho xã { $commune } trong { $dir }
    Máy chủ: { $server }
    Nhật ký: { $journal } ({ $entries } bản ghi)
init-token-empty = mã khóa (token) còn trống
init-ca-not-a-file = chứng chỉ CA { $path } không phải là một tệp
init-other-commune = nhật ký trong { $dir } đang giữ hồ sơ của xã { $old }; hãy cài đặt xã { $new } trong một thư mục dữ liệu mới (--data-dir)
verify-scans-intact = { $count } ảnh trang sổ còn nguyên vẹn
verify-scan-missing = mục #{ $seq }: thiếu ảnh { $hash }
verify-scan-altered = mục #{ $seq }: ảnh { $hash } đã bị thay đổi
verify-scans-broken = { $count } ảnh trang sổ không còn như khi nhập ({ $list }); hãy nhập lại các ảnh đó từ tệp gốc, và báo cán bộ CNTT
verify-intact = Nhật ký nguyên vẹn: { $entries } bản ghi, mọi mã kiểm tra và chuỗi liên kết đều khớp.
verify-altered = nhật ký { $path } đã bị sửa đổi: bản ghi #{ $seq }: { $detail }
requeue-done = Đã đưa { $count } hồ sơ bị từ chối trở lại hàng đợi; lần đồng bộ tới sẽ gửi lại.

## Đồng bộ

sync-waiting = { $count } hồ sơ đang chờ gửi
sync-progress = đã gửi { $sent }, còn { $pending } chờ
sync-already-held = { $count } hồ sơ máy chủ đã có từ trước (đánh dấu là đã gửi)
sync-resend = { $count } hồ sơ máy chủ không còn giữ sẽ được gửi lại
sync-retrying = { $error }; thử lại sau { $wait }
sync-complete = Đồng bộ xong: { $stored } hồ sơ đã lưu ở máy chủ, { $refused } bị từ chối, còn { $pending } chờ.
sync-refused-some = { $count } hồ sơ chưa được lưu (bị máy chủ từ chối, hoặc bị hỏng trong nhật ký); xem lý do và cách xử lý bằng hotich-agent status.
sync-timed-out = dừng sau { $after }: đã gửi { $sent } hồ sơ; { $pending } hồ sơ vẫn được giữ an toàn trong nhật ký (đường truyền liên tục lỗi: { $error }). { $hint }
sync-stalled = không gửi được gì trong { $after } ({ $error }); đã gửi { $sent } hồ sơ; { $pending } hồ sơ vẫn được giữ an toàn trong nhật ký. { $hint }
sync-needs-person = { $error }. { $pending } hồ sơ vẫn được giữ an toàn trong nhật ký.
sync-cancelled = đã dừng đồng bộ; { $pending } hồ sơ vẫn được giữ an toàn trong nhật ký. { $hint }
sync-no-result = đồng bộ kết thúc mà không có kết quả lúc { $time }; xem hotich-agent status
sync-other-running = một lệnh hotich-agent sync khác đang chạy cho thư mục dữ liệu này; hãy đợi nó xong
sync-service-silent = dịch vụ không trả lời trong { $after }; hồ sơ vẫn nằm trong nhật ký và dịch vụ vẫn tiếp tục thử
sync-bad-timeout = --timeout { $value }: hãy ghi số giây lớn hơn 0 và không quá { $max } (một tuần)
continue-service = Dịch vụ sẽ tự tiếp tục thử; xem tiến độ bằng hotich-agent status.
continue-no-service = Không có gì tự thử lại khi dịch vụ không chạy: hãy chạy lại hotich-agent sync khi có mạng, hoặc bật dịch vụ (hotich-agent run) để máy tự tiếp tục thử.

## Lỗi đường truyền và máy chủ

api-error-connect = { $why ->
    [refused] máy chủ không nhận kết nối (máy chủ chưa chạy, hoặc sai địa chỉ hay cổng)
    [dns] không tìm thấy tên máy chủ (mạng chưa có, hoặc địa chỉ máy chủ gõ sai)
    [unreachable] không có đường tới máy chủ (kiểm tra dây mạng hoặc Wi-Fi)
   *[other] không kết nối được máy chủ: { $detail }
}
api-error-timeout = máy chủ không trả lời trong { $secs } giây
api-error-transport = kết nối tới máy chủ bị đứt: { $detail }
api-error-unavailable = máy chủ đang bận hoặc tạm ngừng (HTTP { $status }): { $detail }
api-error-unauthorized = máy chủ không chấp nhận mã khóa của máy này: { $detail }. Hãy xin cán bộ CNTT mã khóa mới và chạy hotich-agent init --force
api-error-forbidden = máy chủ từ chối máy này: { $detail }
api-error-too-large = yêu cầu quá lớn với máy chủ: { $detail }
api-error-refused = máy chủ từ chối yêu cầu (HTTP { $status }): { $detail }
api-error-bad-answer = không đọc được câu trả lời của máy chủ: { $detail }
api-error-setup = không thiết lập được kết nối: { $detail }
api-error-internal = lỗi bên trong chương trình: { $detail }
api-error-no-answer-in-time = máy chủ không trả lời kịp
api-error-scans-still-sending = ảnh trang sổ vẫn đang được gửi; dịch vụ sẽ tiếp tục gửi
api-error-journal-behind = máy chủ đã giữ { $server } bản ghi của máy này nhưng nhật ký ở đây chỉ có { $local }: thư mục dữ liệu đã bị thay hoặc khôi phục từ bản cũ? Đã dừng gửi để không gửi trùng số thứ tự. Hãy khôi phục thư mục dữ liệu từ bản sao lưu, hoặc báo cán bộ CNTT
api-error-journal-differs = bản nhật ký trên máy chủ khác với nhật ký ở đây tại hoặc trước bản ghi #{ $at }. Đã dừng gửi để không gửi trùng số thứ tự. Hãy khôi phục thư mục dữ liệu từ bản sao lưu, hoặc báo cán bộ CNTT
api-error-too-old = máy chủ trung tâm chỉ nhận hotich-agent từ phiên bản { $required } trở lên; máy này đang chạy phiên bản { $running }. Hãy cài hotich-agent { $required } hoặc mới hơn (nhờ cán bộ CNTT); các bản ghi đã nhập vẫn nằm trong nhật ký và sẽ được gửi sau khi nâng cấp
client-token-unreadable = tài khoản này không đọc được mã khóa của máy (chỉ dịch vụ được đọc): hãy bật dịch vụ (`sudo systemctl start hotich-agent`) rồi chạy lại lệnh, hoặc nhờ cán bộ CNTT

## Hồ sơ bị từ chối

refusal-rejected = máy chủ từ chối: { $problems }. Hãy sửa trong tệp gốc rồi nhập lại
refusal-conflict = cơ sở dữ liệu trung tâm đã có một bản khác của mục sổ này ({ $existing }). Nếu hồ sơ này là bản cải chính, hãy nhập lại với "supersedes": "{ $existing }"; nếu là một mục khác thuộc sổ của xã cũ, hãy nhập lại với mã xã cũ (cột Mã xã cũ, hoặc --former-commune MÃ)
refusal-too-large = hồ sơ quá lớn đối với máy chủ
refusal-damaged = bản ghi này bị hỏng trong nhật ký; hãy chạy hotich-agent verify và báo cán bộ CNTT
refusal-old-normal-form = hồ sơ này được ghi bởi bản thử nghiệm trước khi số quyển bỏ số 0 ở đầu; hãy nhập lại tệp gốc vào một thư mục dữ liệu mới

## Tình trạng (status)

status-commune = Xã
status-server = Máy chủ
status-server-reachable = kết nối được ở lần thử gần nhất
status-server-unreachable = KHÔNG kết nối được ở lần thử gần nhất
status-server-not-contacted = chưa liên hệ lần nào
status-service = Dịch vụ
status-service-running = đang chạy
status-service-not-running = không chạy
status-records = Hồ sơ
status-records-value = { $total } trong nhật ký: { $sent } đã gửi, { $waiting } đang chờ, { $refused } bị từ chối
status-scans = Ảnh trang sổ
status-scans-value = { $stored } đã lưu ở máy chủ, { $waiting } đang chờ gửi, { $damaged } bị hỏng trên máy này; { $records } hồ sơ còn chờ gửi ảnh
status-scan-damaged = hỏng trên máy này ({ $problem })
status-scan-attachment-unsent = đã gắn, chưa gửi
status-scan-stored = đã lưu ở máy chủ
status-scan-waiting = đang chờ gửi
status-scan-attached = (gắn sau)
status-oldest = Chờ lâu nhất
status-last-success = Gửi được lần cuối
status-never = chưa lần nào
status-last-error = Lỗi gần nhất
status-next-retry = Thử lại lúc
status-next-retry-no-service = không có gì tự thử lại vì dịch vụ không chạy: bật dịch vụ (hotich-agent run) hoặc chạy hotich-agent sync khi có mạng
status-next-retry-value = { $when } (sau { $failures } lần thất bại liên tiếp)
status-in-sync = Đã đồng bộ
status-in-sync-value = mọi hồ sơ trong nhật ký đều đã có ở cơ sở dữ liệu trung tâm
status-warning = CẢNH BÁO
status-alerts = máy chủ ghi nhận { $count } cảnh báo toàn vẹn cho máy này; hãy báo cán bộ CNTT
status-refused-header = Bị từ chối (sửa nguyên nhân rồi chạy hotich-agent requeue):
status-refused-more = … và { $count } hồ sơ khác
status-closed-header = Hồ sơ bị từ chối đã xử lý xong ({ $count }):
status-resolved-by = đã được bản cải chính #{ $seq } thay thế
status-dismissed = đã hủy: { $reason }
dismiss-done = Đã hủy hồ sơ #{ $seq }: hồ sơ vẫn nằm trong nhật ký và sẽ được báo về máy chủ là đã hủy.
dismiss-not-refused = #{ $seq } không phải hồ sơ đang bị từ chối (xem hotich-agent status): chỉ hủy được hồ sơ bị từ chối
dismiss-no-reason = hãy ghi lý do hủy: --reason "…"
backup-exists = { $path } đã có: hãy chọn tên tệp khác (bản sao lưu cũ không bị ghi đè)
backup-done = Đã sao lưu nhật ký vào { $path }: { $entries } hồ sơ ({ $waiting } đang chờ gửi), mã kiểm tra và chuỗi đều đúng.
restore-not-empty = nhật ký trong { $dir } đã có { $count } hồ sơ: chỉ khôi phục lên máy mới cài, hoặc dùng --force (nhật ký hiện tại được giữ lại là journal.db.before-restore)
restore-not-a-journal = { $path } không phải bản sao lưu nhật ký dùng được: { $detail }
restore-done = Đã khôi phục { $entries } hồ sơ từ { $path } ({ $waiting } đang chờ gửi). Khi kết nối, máy chỉ gửi những hồ sơ máy chủ còn thiếu.
recover-done = Đã khôi phục nhật ký từ bản trên máy chủ: { $recovered } hồ sơ tải về ({ $refused } hồ sơ từng bị từ chối), nhật ký có { $entries } hồ sơ, mã kiểm tra và chuỗi đều đúng.
recover-differs = bản nhật ký trên máy chủ không khớp với nhật ký ở đây tại hồ sơ #{ $seq }: đã dừng, không ghi gì thêm. Hãy báo cán bộ CNTT
recover-missing = máy chủ không có nội dung của hồ sơ #{ $seq }: không khôi phục được phần sau đó. Hãy báo cán bộ CNTT
status-journal-problem = LỖI NHẬT KÝ
status-data-dir = Thư mục dữ liệu
status-upload-limit = Giới hạn tải lên
status-upload-limit-value = { $inside } vào { $days } { $hours } (giờ Việt Nam), ngoài giờ đó { $outside }; lúc này: { $now }
status-upload-unlimited = không giới hạn

## Lỗi chung

error-not-initialized = chưa cài đặt máy trong { $dir } (hãy chạy hotich-agent init --server URL --token MÃ_KHÓA --commune MÃ_XÃ trước)
error-already-initialized = { $dir } đã được cài đặt; dùng --force để cài lại (nhật ký được giữ nguyên)
error-config-read = không đọc được { $path }: { $detail }
error-config-write = không ghi được { $path }: { $detail }
error-config-invalid = { $path }: { $detail }
error-no-data-dir = không có thư mục dữ liệu: hãy đặt --data-dir hoặc HOTICH_DATA_DIR
error-not-member = dịch vụ của hotich-agent giữ dữ liệu trong { $dir } nhưng tài khoản này chưa được dùng: hãy nhờ cán bộ CNTT thêm bạn vào nhóm hotich (`sudo usermod -aG hotich TÊN_BẠN`, rồi đăng nhập lại)
error-journal-lost = nhật ký { $path }: { $detail }
error-journal-too-new = nhật ký { $path } được ghi bởi phiên bản hotich-agent mới hơn; hãy cài phiên bản mới
error-journal = lỗi nhật ký: { $detail }
error-disk-full = ổ đĩa chứa { $path } đã hết chỗ trống (lúc này còn { $free }): hãy xóa bớt tệp hoặc nhờ cán bộ CNTT chuyển thư mục dữ liệu sang ổ khác. Nhật ký vẫn nguyên vẹn
import-disk-full = { $full }. { $saved } hồ sơ đã được lưu trước khi đĩa đầy; sau khi giải phóng chỗ trống, hãy nhập lại tệp: các hồ sơ đã lưu sẽ được nhận ra và không bị lưu hai lần
error-lock-held = một dịch vụ hoặc lệnh đồng bộ hotich-agent khác đang chạy cho { $dir }{ $holder }
error-lock = { $detail }
error-io = { $context }: { $detail }

## Nhật ký bị mất hoặc bị thay

journal-recovery = Chưa thay đổi gì. Hãy chép lại journal.db từ bản sao lưu của máy này (cùng journal.db-wal nếu có), hoặc báo cán bộ CNTT; đừng xóa journal-id.json
journal-held = { " " }(nhật ký từng có { $count } bản ghi)
journal-missing = không thấy journal.db{ $held }
journal-empty = journal.db trống (0 byte){ $held }
journal-unreadable = không đọc được journal.db: { $detail }
journal-not-this = journal.db không phải nhật ký của máy này (mã { $id }, trong khi thư mục dữ liệu ghi { $expected })
journal-behind = journal.db có { $head } bản ghi nhưng từng có { $held }: đã bị thay bằng bản cũ hơn hoặc mất bản ghi
journal-id-unreadable = không đọc được { $file }: { $detail }
journal-id-damaged = { $file } bị hỏng: { $detail }
journal-old-format = nhật ký đang ở dạng cũ (phiên bản { $version }); bất kỳ lệnh nào có ghi (do chủ thư mục dữ liệu chạy) sẽ cập nhật nó
journal-upgrade-broken-reference = không cập nhật được nhật ký: một dòng của bảng { $table } chỉ tới một mục không có trong nhật ký; chưa có gì bị thay đổi (hãy sao chép thư mục dữ liệu và báo cán bộ CNTT)
journal-upgrading = Đang cập nhật nhật ký sang định dạng của phiên bản này ({ $entries } hồ sơ): khoảng một phút cho mỗi triệu hồ sơ, chỉ làm một lần. Đừng tắt máy; nếu máy bị tắt, không mất gì và việc cập nhật sẽ làm lại từ đầu.

## Setup checks and doctor

init-offline = Chưa kiểm tra với máy chủ (--offline): khi có mạng, hãy chạy `hotich-agent doctor`.
init-server-holds-more = CHÚ Ý: máy chủ đã giữ { $server } hồ sơ trong nhật ký của mã khóa này, nhật ký ở đây có { $local }. Đây là máy thay thế? Hãy khôi phục bản sao lưu mới nhất (hotich-agent restore TỆP), hoặc xin cán bộ CNTT mã khôi phục rồi chạy hotich-agent recover --code MÃ (lệnh này cũng tải về phần máy chủ giữ mà bản sao lưu chưa có), trước khi nhập hồ sơ mới; nếu không, các hồ sơ mới sẽ trùng số thứ tự và không được gửi.
init-confirmed = Máy chủ nhận mã khóa này: xã { $commune }{ $place }; đồng hồ máy này lệch { $skew } giây so với máy chủ.
init-token-refused = máy chủ { $server } không chấp nhận mã khóa này: { $detail }. Hãy kiểm tra mã khóa do `hotich-server agent add` cấp; chưa ghi gì.
init-unreachable = không kiểm tra được với máy chủ { $server }: { $detail }. Hãy kiểm tra địa chỉ và mạng (hoặc chứng chỉ CA nếu dùng https), hoặc cài đặt trước với --offline rồi chạy `hotich-agent doctor` sau; chưa ghi gì.
init-check-failed = máy chủ { $server } không xác nhận được cài đặt này: { $detail }; chưa ghi gì.
init-wrong-commune = mã khóa này của xã { $token_commune }, không phải xã { $commune }: hãy kiểm tra mã xã, hoặc xin cán bộ CNTT mã khóa của xã này; chưa ghi gì.
doctor-check-config = Cài đặt
doctor-check-server = Máy chủ
doctor-check-clock = Đồng hồ
doctor-check-disk = Ổ đĩa
doctor-check-journal = Nhật ký
doctor-check-service = Dịch vụ
doctor-config = { $path }: xã { $commune }, máy chủ { $server }
doctor-clock-ok = lệch { $skew } giây so với đồng hồ máy chủ
doctor-clock-off = đồng hồ máy này lệch { $skew } giây so với máy chủ: hãy chỉnh ngày giờ (ngày tháng trên trang theo dõi và trong nhật ký phụ thuộc vào nó)
doctor-disk = còn trống { $mb } MB
doctor-disk-unknown = không rõ dung lượng trống
doctor-journal = { $total } bản ghi, { $pending } đang chờ gửi, { $parked } bị từ chối
doctor-service-running = đang chạy (tiến trình { $pid })
doctor-service-stopped = không chạy: hồ sơ chỉ được gửi khi có người chạy `hotich-agent sync`
doctor-wrong-commune = mã khóa trong cài đặt là của xã { $token_commune }, không phải xã { $commune }: hãy chạy `hotich-agent init --force` với mã khóa của xã này
config-show-header = # Đang dùng: mặc định, rồi { $path }, rồi biến môi trường HOTICH_*, rồi cờ --set.
config-show-override = # { $key } lấy từ { $source }

# The official's page (hotich-agent open)
ui-title = Hộ tịch – Đồng bộ dữ liệu
ui-commune = Xã { $commune }
ui-server = Máy chủ: { $server }
ui-lang-switch = English
ui-queue = Hàng chờ gửi lên máy chủ
ui-waiting = Đang chờ gửi
ui-sent = Đã lưu ở máy chủ
ui-refused = Bị từ chối
ui-link = Đường truyền
ui-link-up = Máy chủ trả lời bình thường
ui-link-down = Không liên lạc được với máy chủ
ui-link-unknown = Chưa thử kết nối
ui-last-success = Gửi thành công lần cuối
ui-next-try = Lần gửi tiếp theo
ui-never = chưa lần nào
ui-ago = { $time } ({ $ago } trước)
ui-in = { $time } (sau { $wait })
ui-next-soon = ngay khi có thể
ui-next-nothing = không có gì chờ gửi
ui-last-error = Lỗi lần trước ({ $time }): { $error }
ui-sync-now = Đồng bộ ngay
ui-syncing = Đang đồng bộ…
ui-sync-done = Đồng bộ xong: đã gửi { $sent } hồ sơ, còn { $pending } chờ gửi, { $refused } bị từ chối.
ui-sync-stopped = Chưa gửi hết: đã gửi { $sent } hồ sơ; { $pending } hồ sơ vẫn được giữ an toàn trên máy này và dịch vụ sẽ tự thử lại ({ $error }).
ui-service-stopping = Dịch vụ đồng bộ đang dừng; hãy thử lại sau ít phút.
ui-import = Nhập tệp hồ sơ
ui-import-help = Chọn tệp Excel (.xlsx), CSV hoặc JSON Lines (.jsonl) theo mẫu bên dưới. Dòng hợp lệ được lưu ngay trên máy này; dòng có lỗi được liệt kê và ghi vào một tệp riêng để sửa rồi nhập lại.
ui-import-button = Nhập tệp
ui-official-label = Người nhập:
ui-import-choose-official = Hãy chọn người đang nhập trước.
ui-import-choose = Hãy chọn một tệp trước.
ui-importing = Đang nhập tệp…
ui-import-result = Đã nhận { $accepted } hồ sơ mới, { $present } hồ sơ đã có từ trước, { $rejected } dòng bị từ chối.
ui-import-row = Dòng { $line }
ui-import-row-sheet = Trang { $sheet }, dòng { $line }
ui-import-more = … và { $count } dòng lỗi khác: xem trong tệp các dòng bị từ chối.
ui-import-failed = Không nhập được tệp: { $error }
ui-import-too-large = tệp lớn hơn 100 MB; hãy chia thành nhiều tệp nhỏ hơn
ui-import-no-name = tệp không có tên
ui-rejects-download = Tải tệp các dòng bị từ chối ({ $name }) để sửa rồi nhập lại
ui-rejects-gone = Tệp này không còn (tệp các dòng bị từ chối được giữ 7 ngày); hãy nhập lại tệp gốc.
ui-col-where = Vị trí
ui-col-problem = Lỗi và cách sửa
ui-refused-title = Hồ sơ bị máy chủ từ chối
ui-refused-help = Các hồ sơ này chưa được lưu ở máy chủ. Hãy sửa trong tệp gốc rồi nhập lại; nếu một hồ sơ không cần gửi nữa, hãy báo cán bộ CNTT (lệnh hotich-agent dismiss).
ui-refused-none = Không có hồ sơ nào bị từ chối.
ui-refused-entry = Mục { $seq }
ui-templates = Mẫu nhập liệu trống
ui-templates-help = Mẫu có sẵn các cột, định dạng ngày và danh sách chọn; mở bằng Excel hoặc LibreOffice.
ui-request-failed = Không liên lạc được với dịch vụ trên máy này ({ $error }); hãy tải lại trang.
ui-session-ended = Phiên làm việc đã hết. Hãy mở lại trang bằng biểu tượng "Hộ tịch – Đồng bộ" hoặc lệnh hotich-agent open.
ui-login-needed-title = Hãy mở trang bằng liên kết mới
ui-login-needed = Trang này chỉ mở được bằng biểu tượng "Hộ tịch – Đồng bộ" trên màn hình hoặc bằng lệnh hotich-agent open. Mỗi liên kết chỉ dùng được một lần, trong 5 phút.
ui-login-used = Liên kết này đã được dùng hoặc đã hết hạn. Hãy mở lại trang bằng biểu tượng "Hộ tịch – Đồng bộ" trên màn hình hoặc bằng lệnh hotich-agent open.
ui-forbidden-title = Yêu cầu bị từ chối
ui-forbidden = Yêu cầu này không đến từ trang đồng bộ trên máy này nên đã bị từ chối.
open-no-service = Dịch vụ đồng bộ chưa chạy trên máy này nên chưa mở được trang. Hãy khởi động dịch vụ (sudo systemctl start hotich-agent, hoặc chạy hotich-agent run) rồi thử lại.
open-service-refused = Dịch vụ đồng bộ không cấp liên kết ({ $error }); hãy thử lại, hoặc báo cán bộ CNTT.
open-opening = Đang mở trang đồng bộ trong trình duyệt…
open-no-browser = Không mở được trình duyệt ({ $error }). Hãy dán liên kết này vào trình duyệt (dùng được một lần, trong 5 phút): { $url }

receipt-bad-span = biên nhận không ghi bản ghi nào
receipt-no-entry = nhật ký trên máy này không có bản ghi #{ $seq }
receipt-chain-differs = mã chuỗi của bản ghi #{ $seq } trong nhật ký trên máy này khác với mã máy chủ đã ký
receipt-bad-signature = chữ ký không khớp (đã bị sửa, hoặc không phải do trung tâm này ký)
receipt-bad-key = "{ $key }" không phải khóa công khai Ed25519 dạng hex
receipt-failed = biên nhận { $id } (bản ghi #{ $first }–#{ $last }): { $problem }
receipts-summary = { $verified }/{ $total } biên nhận hợp lệ; trung tâm đã xác nhận các bản ghi đến #{ $through }
official-unknown = "{ $name }" không có trong danh sách cán bộ của xã ({ $list }); thêm bằng lệnh: hotich-agent official add "{ $name }"
official-choose = ai đang nhập các hồ sơ này? Thêm --official TÊN, chọn một trong: { $list }
official-added = đã thêm { $name } vào danh sách cán bộ
official-known = { $name } đã có trong danh sách cán bộ
official-none = chưa có cán bộ nào trong danh sách; thêm bằng lệnh: hotich-agent official add "TÊN"
problem-correction-reason-missing = bản cải chính (supersedes) phải ghi lý do: điền cột Lý do cải chính ("correction_reason")
official-needs-admin = danh sách cán bộ thuộc cấu hình của dịch vụ: nhờ quản trị viên chạy lệnh: sudo hotich-agent official add "{ $name }"
official-bad-name = "{ $name }": tên cán bộ dài từ 1 đến 100 ký tự, trên một dòng
status-book-entry = { $kind } { $year }, quyển { $book }, số { $entry }
status-former-commune = sổ của xã cũ { $code }
import-second-keying = nhập lần hai: { $keyed } số đã ghi, { $present } đã có từ trước; so với lần nhập đầu trên máy này: { $agree } khớp, { $differ } khác (xem bằng lệnh hotich-agent review sau khi đồng bộ), { $elsewhere } chưa có lần nhập đầu trên máy này (máy chủ sẽ so); { $rejected } bị từ chối
problem-second-keying-own = { $official } đã nhập số này lần đầu: lần nhập thứ hai phải do cán bộ khác
second-keying-needs-official = nhập lần hai và xác nhận phải ghi tên cán bộ: thêm tên bằng lệnh hotich-agent official add "Họ tên", rồi dùng --official "Họ tên"
book-name = { $kind } { $year }, quyển { $book }
book-close-bad = không khóa được sổ: { $problem }
book-closed = đã ghi nhận { $book } có { $entries } số{ $missing }; sẽ gửi lên máy chủ ở lần đồng bộ tới
book-closed-missing = ; số bị mất: { $entries } ({ $reason })
book-line-declared = { $book }: đã nhập { $captured }/{ $declared } số
book-line-open = { $book }: đã nhập { $captured } số (sổ chưa khóa)
book-line-missing = chưa nhập: { $entries }
book-line-lost = đã khai mất: { $entries } ({ $reason })
book-line-checks = đối chiếu khớp { $verified }, sai khác { $discrepancies }, bị từ chối { $refused }, đã cải chính { $corrected }
books-local = không hỏi được máy chủ ({ $error }); số liệu dưới đây chỉ của máy này
books-none = chưa có sổ nào
review-empty = (để trống)
review-entry = { $entry }: { $first } nhập lần đầu, { $second } nhập lần hai, khác nhau ở:
review-field = { $field }: lần đầu { $first }, lần hai { $second }
review-how = nếu lần đầu đúng: hotich-agent review confirm { $key } --official "Họ tên" (cán bộ khác người nhập lần đầu); nếu lần đầu sai: nhập bản cải chính có Lý do cải chính
review-summary = { $discrepancies } số có sai khác chưa xử lý; { $verified } số đã đối chiếu khớp; { $own } lần nhập lại do chính người nhập đầu (không tính); { $waiting } số chờ bản nhập lần đầu
review-confirm-unknown = { $key } không có trong danh sách sai khác của máy chủ (xem bằng lệnh hotich-agent review)
review-confirm-own = { $official } đã nhập số này lần đầu: cán bộ khác phải xác nhận
review-confirmed = đã ghi nhận: { $official } xác nhận lần nhập đầu của { $entry } là đúng; sẽ gửi lên máy chủ ở lần đồng bộ tới
book-bad-entries = số lượng số trong sổ phải từ 1 đến { $max } (đã ghi { $entries })
book-bad-missing = số { $entry } không có trong sổ { $entries } số
book-missing-needs-reason = các số bị mất phải có lý do: thêm --reason "lý do" (ví dụ "trang 4 bị rách")
book-bad-book = { $detail }
