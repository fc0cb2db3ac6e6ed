"""Words of the sign-in pages, Korean first (합니다체), English on ``?lang=en``."""

from __future__ import annotations

PAGE: dict[str, dict[str, str]] = {
    "ko": {
        "title": "khealth 로그인",
        "switch": "English",
        "citizen": "시민 (휴대폰 본인인증)",
        "staff": "의료진·직원",
        "stand_in": "개발용 대체 본인인증입니다. 실제 본인확인기관에 연결되어 있지 않으며, 인증번호는 개발용 문자함에 표시됩니다.",
        "name": "이름",
        "birth_date": "생년월일 (YYYY-MM-DD)",
        "phone": "휴대폰 번호",
        "carrier": "통신사",
        "send_code": "인증번호 받기",
        "code": "인증번호 6자리",
        "code_sent": "문자로 받은 인증번호를 입력해 주세요 (3분 유효).",
        "confirm": "확인",
        "outbox": "개발용 문자함 열기",
        "username": "아이디",
        "password": "비밀번호",
        "sign_in": "로그인",
        "totp": "2단계 인증 (OTP)",
        "totp_help": "인증 앱(OTP)에 표시된 6자리 숫자를 입력해 주세요.",
        "totp_enrol": "처음 로그인하셨습니다. 인증 앱에 아래 키를 등록한 뒤 표시되는 숫자를 입력해 주세요.",
        "pick": "누구의 기록으로 앱을 사용하시겠습니까?",
        "pick_self": "본인",
        "pick_guardian": "보호 대상자",
        "choose": "선택",
        "consent": "앱 접근 허용",
        "consent_help": "아래 앱이 다음 권한을 요청합니다. 허용하면 앱이 해당 기록을 읽을 수 있고, '연결된 앱'에서 언제든지 철회할 수 있습니다.",
        "for_patient": "대상 기록",
        "allow": "허용",
        "deny": "거부",
        "signed_in": "로그인되었습니다.",
        "logout": "로그아웃",
        "error": "요청을 처리할 수 없습니다",
        "expired": "세션이 만료되었습니다. 앱에서 다시 시작해 주세요.",
        "bad_csrf": "양식이 만료되었거나 올바르지 않습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.",
        "wrong_password": "아이디 또는 비밀번호가 올바르지 않습니다.",
        "wrong_totp": "OTP 번호가 올바르지 않습니다.",
        "too_many": "시도 횟수가 너무 많습니다. 잠시 후 다시 시도해 주세요.",
        "no_record": "확인된 본인 명의의 진료 기록을 찾지 못했습니다.",
        "sms_title": "개발용 문자함 (KHEALTH_DEV_MODE)",
        "synthetic": "모든 데이터는 합성 데이터이며 실제 개인의 정보가 아닙니다.",
    },
    "en": {
        "title": "khealth sign-in",
        "switch": "한국어",
        "citizen": "Citizen (mobile identity check)",
        "staff": "Staff",
        "stand_in": "A development stand-in for mobile identity verification: no real verification agency is involved; the code appears in the development SMS outbox.",
        "name": "Name",
        "birth_date": "Birth date (YYYY-MM-DD)",
        "phone": "Mobile number",
        "carrier": "Carrier",
        "send_code": "Send me a code",
        "code": "6-digit code",
        "code_sent": "Enter the code from the text message (valid 3 minutes).",
        "confirm": "Confirm",
        "outbox": "Open the development SMS outbox",
        "username": "Username",
        "password": "Password",
        "sign_in": "Sign in",
        "totp": "Second factor (TOTP)",
        "totp_help": "Enter the 6 digits your authenticator app shows.",
        "totp_enrol": "First sign-in: add the key below to your authenticator app, then enter the code it shows.",
        "pick": "Whose record will the app use?",
        "pick_self": "Yourself",
        "pick_guardian": "Someone in your care",
        "choose": "Choose",
        "consent": "Allow app access",
        "consent_help": "This app asks for the permissions below. If you allow it, it can read these records; you can withdraw at any time under 'connected apps'.",
        "for_patient": "Record",
        "allow": "Allow",
        "deny": "Deny",
        "signed_in": "You are signed in.",
        "logout": "Sign out",
        "error": "The request cannot be completed",
        "expired": "Your session has expired. Start again from the app.",
        "bad_csrf": "The form has expired or is not valid. Reload the page and try again.",
        "wrong_password": "The username or password is not right.",
        "wrong_totp": "The one-time code is not right.",
        "too_many": "Too many attempts. Please wait and try again.",
        "no_record": "No health record in your name was found.",
        "sms_title": "Development SMS outbox (KHEALTH_DEV_MODE)",
        "synthetic": "All data is synthetic; none of it describes a real person.",
    },
}

#: Plain words for scopes on the consent page.
SCOPE_TEXT: dict[str, dict[str, str]] = {
    "ko": {"openid": "로그인 정보 확인", "fhirUser": "사용자 신원 확인",
           "launch/patient": "선택한 기록에 연결", "offline_access": "로그아웃 후에도 계속 접근",
           "online_access": "로그인 중 계속 접근", "read": "읽기", "search": "검색",
           "create": "작성", "update": "수정", "delete": "삭제", "all": "모든 기록"},
    "en": {"openid": "confirm who you are", "fhirUser": "know your user record",
           "launch/patient": "connect to the chosen record", "offline_access": "keep access after you sign out",
           "online_access": "keep access while you are signed in", "read": "read", "search": "search",
           "create": "create", "update": "update", "delete": "delete", "all": "all records"},
}  # fmt: skip


def describe_scope(scope: str, language: str) -> str:
    words = SCOPE_TEXT[language]
    if scope in words:
        return words[scope]
    context_type, _, perms = scope.partition(".")
    resource_type = context_type.split("/", 1)[-1]
    letters = {"read": "rs", "write": "cud", "*": "cruds"}.get(perms, perms)
    names = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
    actions = ", ".join(words[names[c]] for c in letters if c in names)
    target = words["all"] if resource_type == "*" else resource_type
    return f"{target}: {actions}"
