"""A genie-style file: @usercommand marks commands, helparglist gives the signature."""


def usercommand(func):
    func.is_usercommand = True
    func.is_hidden = False
    return func


def helparglist(args):
    def deco(func):
        func.help_arglist = args
        return func

    return deco


@usercommand
@helparglist("block[, value][, lowlimit][, highlimit]")
def cset_like(block, value=None, lowlimit=None, highlimit=None):
    """Sets a block (marked, with a custom argument list)."""


@usercommand
def marked_plain(x: float = 0.0):
    """Marked, normal signature."""


def unmarked_helper(x):
    """Public but not marked: not a command in a file that marks commands."""


def marked_by_attribute(x):
    """Marked by assigning the attribute."""


marked_by_attribute.is_usercommand = True


@usercommand
def hidden_one():
    """Marked but hidden."""


hidden_one.is_hidden = True


@usercommand
def arglist_by_attribute(a, b=2):
    """Arglist given by attribute."""


arglist_by_attribute.help_arglist = "a[, b]"
