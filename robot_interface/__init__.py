"""Run policies on a real (or simulated) WidowX arm, safely, over an authenticated link.

Two processes: a robot server next to the arm (``robot_interface.server``) owns the hardware and
passes every command through one safety filter (``robot_interface.safety``); a policy client
(``robot_interface.client``) runs the policy. Backends implement ``robot_interface.robot.Robot``.
Imports stay light here: pyzmq, pybullet and dynamixel-sdk load only in the modules that need them.
"""
