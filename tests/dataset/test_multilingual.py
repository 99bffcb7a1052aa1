"""Multilingual KokoroChat: translated files imported beside the Japanese and exported byte for byte.

Fixtures are hand-made (invented Japanese and English, never the published data), written in
both formats: the KokoroChat file ``7.json`` and its translations ``en7.json`` / ``zh7.json``.
"""

import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from feedback.dataset import errors
from feedback.dataset.exporter import export_to_path, export_translations_to_path
from feedback.dataset.formats import parse_file
from feedback.dataset.importer import dataset_import
from feedback.dataset.multilingual import dump_multilingual
from feedback.dataset.selectors import ExportOptions
from feedback.models import ExportAudit, Feedback
from roleplay.models import Message, MessageTranslation, Session

from .conftest import dump, make_dialogue, make_multilingual, write_files

pytestmark = pytest.mark.django_db

ZH = (
    "你好。今天想谈些什么？",
    "最近因为工作有点累。",
    "早上起床很难。",
    "那很辛苦。能多说一点吗？",
    "和上司的谈话不顺利。",
    "谢谢你告诉我。",
)


def _import(path, **kwargs):
    with translation.override("en"):
        return dataset_import(path=path, **kwargs)


def _export(tmp_path, language, name="out"):
    out = tmp_path / name
    skipped: list = []
    with translation.override("en"):
        count = export_translations_to_path(
            out=out, user=None, options=ExportOptions(), language=language, skipped=skipped
        )
    return out, count, skipped


def _message(template, **params) -> str:
    with translation.override("en"):
        return str(errors.fail(template, **params).message)


def _translations(language="en") -> list[str]:
    return list(
        MessageTranslation.objects.filter(language=language)
        .order_by("message__session_id", "message__seq")
        .values_list("text", flat=True)
    )


@pytest.mark.parametrize(
    "text",
    ['quote " backslash \\ slash /', "line\nbreak\ttab", "\u2028\u2029 and \x7f", "emoji 😀 and é", "", "日本語"],
)
def test_the_writer_is_json_dumps_with_indent_2(text):
    obj = make_multilingual(make_dialogue(sub=text), tuple(f"{text} {n}" for n in range(6)))
    obj["review_by_client"]["harmful_due_to_ignorance"] = None
    assert dump_multilingual(obj) == json.dumps(obj, ensure_ascii=False, indent=2).encode()
    odd = {"dialogue": [], "topic": {}, "review_by_client": {}}  # another shape goes through json.dumps
    assert dump_multilingual(odd) == json.dumps(odd, ensure_ascii=False, indent=2).encode()


def test_a_translation_is_parsed_with_its_language_from_the_file_name():
    jp = make_dialogue(evaluation_id=7)
    parsed = parse_file(dump(make_multilingual(jp)), "English/en7.json")
    assert parsed.language == "en" and parsed.evaluation_id == 7 and parsed.score == 73
    assert [m.text for m in parsed.messages] == [m["utterance"] for m in jp["dialogue"]]
    assert parsed.translation[0] == "Hello. What would you like to talk about today?"
    assert parse_file(dump(make_multilingual(jp, ZH)), "zh7.json").language == "zh"
    assert parse_file(dump(make_multilingual(jp)), "zh-Hant7.json").language == "zh-Hant"
    assert parse_file(dump(jp), "7.json").translation is None


def test_a_translation_folder_imports_on_its_own_and_exports_byte_for_byte(tmp_path):
    jp = make_dialogue(evaluation_id=7, screenings=(False, False, True))
    en, zh = dump(make_multilingual(jp)), dump(make_multilingual(jp, ZH))
    folder = write_files(tmp_path / "in", {"en7.json": en, "zh7.json": zh})
    report = _import(folder)
    assert report.ok and report.imported == 2 and report.messages == 6 and report.translations == 12
    assert Session.objects.count() == 1 and Message.objects.count() == 6
    assert [m.text for m in Message.objects.order_by("seq")] == [m["utterance"] for m in jp["dialogue"]]
    out, count, skipped = _export(tmp_path, "en")
    assert (count, skipped, sorted(p.name for p in out.iterdir())) == (1, [], ["en7.json"])
    assert (out / "en7.json").read_bytes() == en.encode()
    out, _count, _skipped = _export(tmp_path, "zh", "out-zh")
    assert (out / "zh7.json").read_bytes() == zh.encode()
    # The Japanese dialogue created from the translation alone is the published Japanese file.
    export_to_path(out=tmp_path / "jp", user=None, options=ExportOptions(), fmt="folder")
    assert (tmp_path / "jp" / "7.json").read_bytes() == dump(jp).encode()
    audit = ExportAudit.objects.filter(fmt="multilingual").order_by("-pk").first()
    assert (audit.fmt, audit.params["language"], audit.dialogue_count) == ("multilingual", "zh", 1)


def test_translations_attach_to_the_stored_japanese_and_a_rerun_changes_nothing(tmp_path):
    jp = make_dialogue(evaluation_id=7)
    write_files(tmp_path / "jp", {"7.json": jp, "8.json": make_dialogue(evaluation_id=8)})
    assert _import(tmp_path / "jp").imported == 2
    before = list(Message.objects.order_by("pk").values_list("pk", "text"))
    write_files(tmp_path / "en", {"en7.json": make_multilingual(jp)})
    report = _import(tmp_path / "en")
    assert report.ok and (report.imported, report.messages, report.translations) == (1, 0, 6)
    assert list(Message.objects.order_by("pk").values_list("pk", "text")) == before
    session = Feedback.objects.get(evaluation_id=7).session_id
    assert set(MessageTranslation.objects.values_list("message__session_id", flat=True)) == {session}
    assert _translations()[3] == "That sounds hard. Could you tell me a bit more?"
    again = _import(tmp_path / "en")
    assert again.ok and (again.imported, again.unchanged) == (0, 1) and MessageTranslation.objects.count() == 6
    # The Japanese export is unchanged by the translations.
    export_to_path(out=tmp_path / "out", user=None, options=ExportOptions(), fmt="folder")
    assert (tmp_path / "out" / "7.json").read_bytes() == dump(jp).encode()


def test_a_japanese_file_and_its_translation_in_one_run(tmp_path):
    jp = make_dialogue(evaluation_id=7)
    write_files(tmp_path, {"7.json": jp, "en7.json": make_multilingual(jp), "zh7.json": make_multilingual(jp, ZH)})
    report = _import(tmp_path, chunk_size=1)
    assert report.ok and report.imported == 3 and Session.objects.count() == 1
    report = _import(tmp_path)
    assert report.ok and report.unchanged == 3 and MessageTranslation.objects.count() == 12


def test_mismatches_with_the_stored_original_are_per_file_rejections(tmp_path):
    for eid in (1, 2, 3, 4, 5):
        write_files(tmp_path / "jp", {f"{eid}.json": make_dialogue(evaluation_id=eid)})
    assert _import(tmp_path / "jp").imported == 5
    origin = make_multilingual(make_dialogue(evaluation_id=1))
    origin["dialogue"][2]["origin"] = "別の文です。"
    shorter = make_multilingual(make_dialogue(evaluation_id=2, lines=(("counselor", "こんにちは。"),)), ("Hello.",))
    role = make_multilingual(make_dialogue(evaluation_id=3))
    role["dialogue"][0]["role"] = "client"
    sub = make_multilingual(make_dialogue(evaluation_id=4, sub="家族との関係"))
    write_files(
        tmp_path / "en",
        {
            "en1.json": origin,
            "en2.json": shorter,
            "en3.json": role,
            "en4.json": sub,
            "en5.json": make_multilingual(make_dialogue(evaluation_id=5)),
        },
    )
    report = _import(tmp_path / "en")
    expected = dict(
        [
            (
                "en1.json",
                _message(
                    errors.ERR_ORIGINAL_DIFFERS,
                    field="dialogue[3].origin",
                    value="別の文です。",
                    id=1,
                    expected="朝起きるのがつらいです。",
                ),
            ),
            ("en2.json", _message(errors.ERR_MESSAGE_COUNT, field="dialogue", value=1, id=2, expected=6)),
            (
                "en3.json",
                _message(
                    errors.ERR_ORIGINAL_DIFFERS, field="dialogue[1].role", value="client", id=3, expected="counselor"
                ),
            ),
            (
                "en4.json",
                _message(
                    errors.ERR_ORIGINAL_DIFFERS, field="topic.sub", value="家族との関係", id=4, expected="上司との関係"
                ),
            ),
        ]
    )
    assert dict(report.rejected) == expected
    assert report.imported == 1 and report.translations == 6
    assert set(MessageTranslation.objects.values_list("message__session__feedback__evaluation_id", flat=True)) == {5}


def test_a_different_translation_is_a_conflict_unless_update(tmp_path):
    jp = make_dialogue(evaluation_id=7)
    write_files(tmp_path, {"en7.json": make_multilingual(jp)})
    assert _import(tmp_path).ok
    changed = make_multilingual(jp, tuple(f"Sentence {n}." for n in range(6)))
    write_files(tmp_path, {"en7.json": changed})
    report = _import(tmp_path)
    with translation.override("en"):
        reason = str(errors.ERR_TRANSLATION_CONFLICT) % {"value": 7, "language": "en"}
    assert report.rejected == [("en7.json", reason)]
    report = _import(tmp_path, update=True)
    assert report.ok and (report.imported, report.updated) == (1, 1)
    assert _translations() == [f"Sentence {n}." for n in range(6)]
    out, _count, _skipped = _export(tmp_path, "en")
    assert (out / "en7.json").read_bytes() == dump(changed).encode()


@pytest.mark.parametrize(
    ("name", "template"),
    [("7.json", errors.ERR_BAD_LANGUAGE_NAME), ("ja7.json", errors.ERR_ORIGINAL_LANGUAGE)],
)
def test_the_language_comes_from_the_file_name(tmp_path, name, template):
    write_files(tmp_path, {name: make_multilingual(make_dialogue(evaluation_id=7))})
    report = _import(tmp_path)
    assert report.rejected == [(name, _message(template, value=name))]
    assert Session.objects.count() == 0


def test_format_errors_name_the_multilingual_fields(tmp_path):
    missing = make_multilingual(make_dialogue(evaluation_id=1))
    del missing["dialogue"][1]["content"]
    nul = make_multilingual(make_dialogue(evaluation_id=2))
    nul["dialogue"][3]["content"] = "a\x00b"
    score = make_multilingual(make_dialogue(evaluation_id=3))
    score["review_by_client"]["score"] = "73"
    good = make_multilingual(make_dialogue(evaluation_id=4))
    write_files(tmp_path, {"en1.json": missing, "en2.json": nul, "en3.json": score, "en4.json": good})
    report = _import(tmp_path)
    reasons = dict(report.rejected)
    assert reasons["en1.json"] == _message(errors.ERR_MISSING_KEY, field="dialogue[2]", key="content")
    assert reasons["en2.json"] == _message(errors.ERR_TEXT_NUL, field="dialogue[4].content", pos=1)
    assert "review_by_client.score" in reasons["en3.json"] and '"73"' in reasons["en3.json"]
    assert report.imported == 1 and Feedback.objects.get().evaluation_id == 4


def test_an_untranslated_message_leaves_the_dialogue_out_of_the_translation_export(tmp_path):
    write_files(
        tmp_path / "in",
        {f"en{i}.json": make_multilingual(make_dialogue(evaluation_id=i)) for i in (1, 2)},
    )
    assert _import(tmp_path / "in").ok
    MessageTranslation.objects.filter(message__session__feedback__evaluation_id=2, message__seq=4).delete()
    out, count, skipped = _export(tmp_path, "en")
    with translation.override("en"):
        reason = str(errors.ERR_NO_TRANSLATION) % {"n": 4, "language": "en"}
    assert (count, skipped, [p.name for p in out.iterdir()]) == (1, [(2, reason)], ["en1.json"])


def test_the_export_command_writes_the_translation_files(tmp_path):
    jp = make_dialogue(evaluation_id=9)
    write_files(tmp_path / "in", {"en9.json": make_multilingual(jp)})
    call_command("import_kokorochat", str(tmp_path / "in"), "--quiet", stdout=_Sink(), stderr=_Sink())
    out = tmp_path / "out"
    call_command("export_kokorochat", str(out), "--format", "multilingual", "--language", "en", stdout=_Sink())
    assert (out / "en9.json").read_bytes() == dump(make_multilingual(jp)).encode()
    with pytest.raises(CommandError, match="--language"):
        call_command("export_kokorochat", str(tmp_path / "o2"), "--format", "multilingual", "--lang", "en")
    with pytest.raises(CommandError, match="--language"):
        call_command("export_kokorochat", str(tmp_path / "o3"), "--language", "en", "--lang", "en")
    with pytest.raises(CommandError, match="ja"):
        call_command("export_kokorochat", str(tmp_path / "o4"), "--format", "multilingual", "--language", "ja")


class _Sink:
    def write(self, text):
        pass

    def flush(self):
        pass


def test_replacing_the_japanese_dialogue_removes_its_translations(tmp_path):
    jp = make_dialogue(evaluation_id=7)
    write_files(tmp_path / "en", {"en7.json": make_multilingual(jp)})
    assert _import(tmp_path / "en").ok and MessageTranslation.objects.count() == 6
    write_files(tmp_path / "jp", {"7.json": make_dialogue(evaluation_id=7, sub="家族との関係")})
    report = _import(tmp_path / "jp", update=True)
    assert report.ok and report.updated == 1
    assert MessageTranslation.objects.count() == 0 and Message.objects.count() == 6
    # The old translation no longer matches the stored original: refused with the reason.
    report = _import(tmp_path / "en")
    assert report.rejected and "topic.sub" in report.rejected[0][1]


def test_the_import_command_reports_the_translations(tmp_path):
    write_files(tmp_path, {"en7.json": make_multilingual(make_dialogue(evaluation_id=7))})
    out = _Buffer()
    call_command("import_kokorochat", str(tmp_path), "--quiet", "--lang", "ja", stdout=out, stderr=_Sink())
    assert "1 ファイル: 取り込み 1、変更なし 0、拒否 0" in out.text and "翻訳 6 件を取り込みました" in out.text


class _Buffer(_Sink):
    text = ""

    def write(self, text):
        self.text += text


def test_the_web_export_form_downloads_the_translations_as_a_zip(tmp_path, client):
    """Issue 20: the dataset page's export form offers the translations format with a language; the ZIP holds
    {language}/{language}{id}.json, byte-identical to the published file; bad choices are refused unaudited."""
    import io
    import zipfile

    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from feedback.dataset.forms import ERR_LANGUAGE_NEEDED, ERR_LANGUAGE_UNUSED

    jp = make_dialogue(evaluation_id=7)
    en, zh = dump(make_multilingual(jp)), dump(make_multilingual(jp, ZH))
    assert _import(write_files(tmp_path / "in", {"en7.json": en, "zh7.json": zh})).ok
    staff = get_user_model().objects.create_user("export-staff", password="x", is_staff=True)
    client.force_login(staff)
    url = reverse("dataset:export")
    with translation.override("en"):
        form_page = client.get(reverse("dataset:sessions")).content.decode()
        assert 'value="multilingual"' in form_page and 'name="language"' in form_page
        response = client.post(url, {"subset": "all", "fmt": "multilingual", "language": "en"})
        assert response.status_code == 200 and response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"].endswith('kokorochat-all-en.zip"')
        with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
            assert zf.namelist() == ["en/en7.json"] and zf.read("en/en7.json") == en.encode()
        audit = ExportAudit.objects.get()
        assert (audit.channel, audit.fmt, audit.params["language"], audit.dialogue_count) == (
            "web",
            "multilingual",
            "en",
            1,
        )
        zh_zip = client.post(url, {"subset": "all", "fmt": "multilingual", "language": "zh"})
        with zipfile.ZipFile(io.BytesIO(b"".join(zh_zip.streaming_content))) as zf:
            assert zf.read("zh/zh7.json") == zh.encode()
        missing = client.post(url, {"subset": "all", "fmt": "multilingual"})
        assert missing.status_code == 400
        assert list(missing.context["export_form"].errors["language"]) == [str(ERR_LANGUAGE_NEEDED)]
        unused = client.post(url, {"subset": "all", "fmt": "zip", "language": "en"})
        assert unused.status_code == 400
        assert list(unused.context["export_form"].errors["language"]) == [str(ERR_LANGUAGE_UNUSED)]
        assert client.post(url, {"subset": "all", "fmt": "multilingual", "language": "ja"}).status_code == 400
    assert ExportAudit.objects.count() == 2  # the refused ones were not audited
