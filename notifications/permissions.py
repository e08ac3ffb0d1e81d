"""Who may do what with a message. A message is as visible as its incident (``selectors.message_visible_q``);
putting one back in the queue is for whoever may act on its incident, and for staff when it has no incident."""

from incidents import permissions


def can_resend(user, message) -> bool:
    if not (user is not None and user.is_authenticated and user.is_active):
        return False
    if message.incident_id is None:
        return bool(user.is_staff)
    return permissions.can_act(user, message.incident)


def can_configure(user, model, action: str) -> bool:
    """Change where and when messages go (destinations, routing rules, attention windows): the model permission.

    ``action`` is ``add``, ``change`` or ``delete``. The admin and any other entrance ask the same question.
    """
    if not (user is not None and user.is_authenticated and user.is_active):
        return False
    opts = model._meta
    return bool(user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))
