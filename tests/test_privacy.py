"""The caregiver stays in control: export everything, erase everything, consent per text version."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.db.models import Caregiver
from bot.features import load
from tests.conversation import CoreUser, TelegramUser
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness
from tests.test_flows import complete_selfcheck, onboarded


async def play_selfcheck(user: TelegramUser) -> None:
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("/zelftest")
    for answer in ["Soms"] * 8 + ["Een beetje", "Het wordt te zwaar"]:  # 10 points: heavy
        await user.taps(answer)


async def rows_referring_to(core: BotCore, caregiver_id: int) -> dict[str, int]:
    counts = {}
    async with core.db.transaction() as session:
        for table in core.registry.personal_data:
            counts[table.model.__tablename__] = int(
                await session.scalar(
                    select(func.count()).select_from(table.model).where(table.owner == caregiver_id)
                )
                or 0
            )
    return counts


async def test_my_data_sends_a_json_file_with_every_answer_and_a_summary(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 601)
    await play_selfcheck(user)
    await user.says("/mijngegevens")
    summary = user.messages()[-2]["text"]
    assert "Dit bewaar ik over jou" in summary and "Antwoorden: 10. Uitslagen: 1." in summary
    upload = fake.calls_to("sendDocument")[-1]
    document = next(iter(upload.files.values()))
    assert document.filename == "mijngegevens-2026-11-23.json"
    data = json.loads(document.content)
    assert data["caregiver"]["telegram_user_id"] == 601
    assert len(data["answer"]) == 10 and all(a["answered_at"] for a in data["answer"])
    assert data["result"][0]["band"] == "heavy"


async def test_forget_me_erases_every_row_and_treats_the_user_as_new(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 602)
    await play_selfcheck(user)
    await user.says("/zelftest")
    await user.taps("Nee")  # an open dialog as well
    assert harness.core is not None
    async with harness.core.db.transaction() as session:
        caregiver_id = await session.scalar(
            select(Caregiver.id).where(Caregiver.telegram_user_id == 602)
        )
    assert caregiver_id is not None
    before = await rows_referring_to(harness.core, caregiver_id)
    assert before["answer"] == 11 and before["result"] == 1 and before["dialog_state"] == 1

    await user.says("/vergeetmij")
    assert "niet terugdraaien" in user.last_text
    await user.taps("Ja, wis alles over mij")
    assert "Ik heb alles over jou gewist" in user.last_text

    # Every registered table with caregiver data (all of them, see the registry test): none
    # refers to the caregiver any more.
    assert set(await rows_referring_to(harness.core, caregiver_id)).issuperset(
        {"answer", "result", "dialog_state", "dialog_run"}
    )
    assert all(n == 0 for n in (await rows_referring_to(harness.core, caregiver_id)).values())
    async with harness.core.db.transaction() as session:
        assert await session.scalar(select(Caregiver).where(Caregiver.id == caregiver_id)) is None

    await user.says("/start")
    assert user.last_text.startswith("In welke taal")  # a new user again


async def test_saying_no_to_forget_me_keeps_everything(core: BotCore) -> None:
    user = CoreUser(core, 603)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("/vergeetmij")
    await user.taps("Nee, toch niet")
    assert "er verandert niets" in user.last_text
    async with core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Caregiver)) == 1


async def test_a_new_privacy_text_asks_for_consent_again(core: BotCore) -> None:
    user = CoreUser(core, 604)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    core.privacy_version += 1
    await user.says("/zelftest")
    assert "alleen als jij het goed vindt" in user.last_text
    await user.says("/start")
    assert "privacytekst is veranderd" in user.last_text
    await user.taps("Ja, dat mag")
    async with core.db.transaction() as session:
        caregiver = await session.scalar(select(Caregiver))
        assert caregiver is not None and caregiver.consent_version == core.privacy_version


async def test_privacy_page_offers_export_and_erase(core: BotCore) -> None:
    user = CoreUser(core, 605)
    await user.says("/privacy")
    labels = [b.label for b in user.buttons]
    assert "Mijn gegevens bekijken" in labels and "Alles over mij wissen" in labels
    await user.taps("Mijn gegevens bekijken")
    assert user.last_message.document is not None


def texts_of(reply: object) -> str:
    assert reply is not None
    return "\n".join(m.text for m in reply.messages)  # type: ignore[attr-defined]


async def test_privacy_lists_what_is_kept_for_this_caregiver_before_and_after_consent(
    core: BotCore,
) -> None:
    user = CoreUser(core, 606)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Nee, liever niet")
    page = texts_of(await user.says("/privacy"))
    assert "• je taal" in page and "• dat je geen toestemming gaf" in page
    assert "uitslag" not in page.split("Je gaf geen toestemming")[0]  # nothing of the sort kept

    await user.taps("Toestemming geven")
    await complete_selfcheck(user, "Soms")
    page = texts_of(await user.says("/privacy"))
    assert "• 10 antwoorden op mijn vragen" in page and "• 1 uitslag van de zelftest" in page
    assert "• wanneer je toestemming gaf" in page


async def test_withdrawing_says_what_goes_and_what_stays_from_what_is_stored(
    core: BotCore,
) -> None:
    user = await onboarded(core, 607)
    await complete_selfcheck(user, "Soms")
    await user.says("/privacy")
    question = texts_of(await user.taps("Toestemming intrekken en wissen"))
    going, staying = question.split("Dit blijft:")
    assert "• 1 uitslag van de zelftest" in going and "• je taal" in staying
    assert "uitslag" not in staying
    done = texts_of(await user.taps("Ja, wis mijn antwoorden en uitslagen"))
    assert "Dit blijft:" in done and "• je taal" in done and "uitslag van" not in done
    assert "• dat je geen toestemming gaf" in done


def test_the_two_erasures_have_labels_that_cannot_be_mixed_up() -> None:
    content, _ = load()
    withdraw, erase = (content.messages[k] for k in ("privacy_withdraw_yes", "forget_yes"))
    assert withdraw != erase and "antwoorden" in withdraw and "alles" in erase
    assert content.messages["privacy_withdraw"] != content.messages["privacy_forget"]
