"""The eight default templates, one per intervention type (installed by a data migration,
editable in the admin). Slugs are the type names with hyphens."""

DEFAULT_TEMPLATES: tuple[dict[str, str], ...] = (
    {
        "intervention_type": "human_outreach",
        "name": "Human outreach: a personal note",
        "channel": "email",
        "subject": "{{ first_name }}, can we help with {{ course|default:'your course' }}?",
        "body": (
            "Hi {{ first_name }},\n\n"
            "I noticed you have not been back to {{ course|default:'your course' }} for a while, "
            "and wanted to check in personally. If something got in the way, reply to this email "
            "and tell me; we can find a pace that works.\n\n"
            '{% if lesson %}You left off at "{{ lesson }}".{% endif %}'
        ),
        "cta_label": "Pick up where you left off",
        "goal_event": "lesson_started",
    },
    {
        "intervention_type": "discount_offer",
        "name": "Discount offer: finish what you started",
        "channel": "email",
        "subject": "You are close, {{ first_name }}: a little help to finish",
        "body": (
            "Hi {{ first_name }},\n\n"
            "You have put real work into {{ course|default:'your course' }}. To help you over "
            "the line, there is an offer waiting on your page."
        ),
        "cta_label": "See the offer",
        "goal_event": "lesson_completed",
    },
    {
        "intervention_type": "gentle_reminder",
        "name": "Gentle reminder",
        "channel": "email",
        "subject": "{{ first_name }}, your next lesson is waiting",
        "body": (
            "Hi {{ first_name }},\n\n"
            '{% if lesson %}"{{ lesson }}" is next in {{ course }}.{% else %}Your course is '
            "waiting for you.{% endif %} Ten minutes today keeps the momentum going."
        ),
        "cta_label": "Continue learning",
        "goal_event": "lesson_completed",
    },
    {
        "intervention_type": "streak_warning",
        "name": "Streak warning",
        "channel": "in_app",
        "subject": "Your {{ streak_days }}-day streak ends tonight",
        "body": (
            "One lesson, quiz or video today keeps your {{ streak_days }}-day streak alive."
            "{% if freezes %} You hold {{ freezes }} freeze{{ freezes|pluralize }}, but why "
            "spend one?{% endif %}"
        ),
        "cta_label": "Keep the streak",
        "goal_event": "lesson_completed",
    },
    {
        "intervention_type": "personalized_content",
        "name": "Personalized content",
        "channel": "email",
        "subject": "A different way into {{ course|default:'your course' }}",
        "body": (
            "Hi {{ first_name }},\n\n"
            "Some parts of {{ course|default:'the course' }} are harder than others. "
            '{% if lesson %}Try "{{ lesson }}" next; it builds on what you already did.{% endif %}'
        ),
        "cta_label": "Try it",
        "goal_event": "lesson_completed",
    },
    {
        "intervention_type": "peer_comparison",
        "name": "Peer comparison",
        "channel": "email",
        "subject": "Your classmates are moving ahead in {{ course|default:'your course' }}",
        "body": (
            "Hi {{ first_name }},\n\n"
            "Others in {{ course|default:'your course' }} have been busy this week. "
            "You are at {{ xp }} XP and level {{ level }}; one lesson puts you back in the race."
        ),
        "cta_label": "Catch up",
        "goal_event": "lesson_completed",
    },
    {
        "intervention_type": "milestone_celebration",
        "name": "Milestone celebration",
        "channel": "in_app",
        "subject": "Halfway there, {{ first_name }}!",
        "body": (
            "You are past the middle of {{ course|default:'your course' }}, at level {{ level }}."
            "{% if xp_to_next %} {{ xp_to_next }} XP more and you reach {{ next_level }}."
            "{% endif %}"
        ),
        "cta_label": "Keep going",
        "goal_event": "lesson_completed",
    },
    {
        "intervention_type": "achievement_notification",
        "name": "Achievement notification",
        "channel": "in_app",
        "subject": "{{ next_achievement|default:'A new achievement' }} is within reach",
        "body": (
            "You are {{ achievement_percent }}% of the way to {{ next_achievement|default:'your "
            "next achievement' }}. Keep doing what you are doing."
        ),
        "cta_label": "See your achievements",
        "goal_event": "lesson_completed",
    },
)
