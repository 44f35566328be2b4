"""Which complaint post a clock charges (pure): each leg's clocks charge that leg's unit only.

An alert has one set of clocks, but several legs (PRODUCT.md section 2, step 3): a transit guard may
acknowledge it and act on the spot while a post's counselor takes the follow-up. A report by post
charges each clock to the post whose leg it measured:

- acknowledgement: the post that acknowledged the alert; no post when a transit leg did (its
  partner has it); the first post offered when nobody did;
- first_contact and on_scene (post target): the post whose leg held the case (took the
  follow-up); no post when none did;
- on_scene (transit target): no post (the transit leg's, reported by partner);
- routing and the case's clocks: the alert's post (the holder, else the first offered).

So a post is neither blamed for a transit leg's clock nor credited with an acknowledgement that a
transit desk made after the post's own offer expired.
"""

from __future__ import annotations


def post_charged(
    clock: str,
    target_key: str,
    *,
    post: str | None,
    holder: str | None,
    first_accept_kind: str | None,
) -> str | None:
    """``post``: the alert's post (the holder, else the first offered); ``holder``: the post (or
    central desk) whose leg was accepted first, if any; ``first_accept_kind``: the kind of leg that
    acknowledged the alert."""
    if clock == "acknowledgement":
        return None if first_accept_kind == "transit" else post
    if clock == "on_scene" and target_key.endswith(":transit"):
        return None
    if clock in ("first_contact", "on_scene"):
        return holder
    return post
